#!/bin/sh
# The whole test suite: TS unit tests (bun test), then the Python worker's unit tests and the
# end-to-end tests against real granian-ts processes (pytest).
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh
export PATH="$PWD/node_modules/.bin:$PATH"
tsc --noEmit -p .
bun test
.venv/bin/python -m pytest tests/python tests/e2e "$@"
