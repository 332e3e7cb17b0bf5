#!/bin/sh
# The whole test suite: TS unit tests (bun test), then the Python worker's unit tests and the
# end-to-end tests against real granian-ts processes (pytest).
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh
# Tools the e2e tests run, from Debian when missing: nginx in front and wrk as the load
# (tests/e2e/test_deploy_nginx.py); curl, openssl and h2load (HTTP/2, TLS); h2spec is a Go module.
missing=""
command -v wrk >/dev/null 2>&1 || missing="$missing wrk"
# slowhttptest: slow clients beside a normal one (tests/e2e/test_load_limits.py); prlimit (util-linux).
command -v slowhttptest >/dev/null 2>&1 || missing="$missing slowhttptest"
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing="$missing nginx"
command -v curl >/dev/null 2>&1 || missing="$missing curl"
command -v openssl >/dev/null 2>&1 || missing="$missing openssl"
command -v h2load >/dev/null 2>&1 || missing="$missing nghttp2-client"
if ! command -v h2spec >/dev/null 2>&1 && ! command -v go >/dev/null 2>&1; then missing="$missing golang-go"; fi
if [ -n "$missing" ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
fi
export PATH="$PWD/node_modules/.bin:$PWD/.tools:$PATH"
if ! command -v h2spec >/dev/null 2>&1; then
  GOBIN="$PWD/.tools" go install github.com/summerwind/h2spec/cmd/h2spec@v2.2.1+incompatible
fi
tsc --noEmit -p .
bun test
# The worker's unit tests once more on the pure-Python codec, the reference the C one mirrors
# (python/granian_ts/_speedups.c, built by setup.sh; the run below uses it, as users get it).
GRANIAN_TS_SPEEDUPS=0 .venv/bin/python -m pytest -q tests/python --ignore=tests/python/test_speedups.py
.venv/bin/python -m pytest tests/python tests/e2e "$@"
