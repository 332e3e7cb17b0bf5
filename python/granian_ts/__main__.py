"""`python -m granian_ts --socket PATH --target module:attr …`: run one worker (Bun spawns it)."""

import sys

from .worker import main

sys.exit(main())
