#!/bin/sh
# Serve the bundled FastAPI example on http://127.0.0.1:8000 (installs what it needs first).
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh
exec bin/granian-ts serve --interface asgi --python .venv/bin/python --working-dir examples "$@" fastapi_app:app
