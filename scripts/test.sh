#!/bin/sh
# The whole test suite: TS unit tests (bun test), then the Python worker's unit tests and the
# end-to-end tests against real granian-ts processes (pytest).
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh
export PATH="$PWD/node_modules/.bin:$PWD/.tools:$PATH"
# Test clients from Debian (curl, openssl, h2load) and h2spec (a Go module), when missing.
missing=""
command -v curl >/dev/null || missing="$missing curl"
command -v openssl >/dev/null || missing="$missing openssl"
command -v h2load >/dev/null || missing="$missing nghttp2-client"
if ! command -v h2spec >/dev/null && ! command -v go >/dev/null; then missing="$missing golang-go"; fi
if [ -n "$missing" ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
fi
if ! command -v h2spec >/dev/null; then
  GOBIN="$PWD/.tools" go install github.com/summerwind/h2spec/cmd/h2spec@v2.2.1+incompatible
fi
tsc --noEmit -p .
bun test
.venv/bin/python -m pytest tests/python tests/e2e "$@"
