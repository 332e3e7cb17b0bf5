#!/bin/sh
# The whole test suite: TS unit tests (bun test), then the Python worker's unit tests and the
# end-to-end tests against real granian-ts processes (pytest).
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh
# Tools the e2e tests run (tests/e2e/test_deploy_nginx.py: nginx in front, wrk as the load).
missing=""
command -v wrk >/dev/null 2>&1 || missing="$missing wrk"
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing="$missing nginx"
if [ -n "$missing" ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
fi
export PATH="$PWD/node_modules/.bin:$PATH"
tsc --noEmit -p .
bun test
.venv/bin/python -m pytest tests/python tests/e2e "$@"
