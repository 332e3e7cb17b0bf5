#!/bin/sh
# Install what granian-ts needs on a machine with only Node/npm and python3: Bun and the JS
# dependencies from npm, and a Python venv (.venv) from requirements-dev.txt. Idempotent and
# quick when nothing changed.
set -eu
cd "$(dirname "$0")/.."
if [ ! -x node_modules/.bin/bun ] || [ package.json -nt node_modules/.package-lock.json ]; then
  npm install --no-audit --no-fund --loglevel=error
fi
if [ ! -x .venv/bin/python ] || ! cmp -s requirements-dev.txt .venv/.installed; then
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt
  cp requirements-dev.txt .venv/.installed
fi
# The worker's optional C codec (python/granian_ts/_speedups.c), when a compiler is here.
sh scripts/build-speedups.sh .venv/bin/python
