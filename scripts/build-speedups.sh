#!/bin/sh
# Build the optional C codec of the Python worker, python/granian_ts/_speedups.abi3.so, from
# python/granian_ts/_speedups.c against the stable ABI of CPython 3.10+ (one file for every such
# CPython of this platform). Without a C compiler or Python's headers it builds nothing and the
# workers use the pure-Python codec, which is the reference: never an error.
#   sh scripts/build-speedups.sh [python]     (default: .venv/bin/python, else python3)
# Run by scripts/setup.sh and by `npm pack` (prepack), so the package carries it.
set -eu
# From a checkout (scripts/); the Dockerfile runs a copy from where the package lies.
if [ -d "$(dirname "$0")/../python/granian_ts" ]; then cd "$(dirname "$0")/.."; fi
py=${1:-}
if [ -z "$py" ]; then
  if [ -x .venv/bin/python ]; then py=.venv/bin/python; else py=python3; fi
fi
src=python/granian_ts/_speedups.c
out=python/granian_ts/_speedups.abi3.so
[ -f "$out" ] && [ "$out" -nt "$src" ] && exit 0
cc=${CC:-cc}
skip() {
  # A module older than its source would not be the codec the source says: gone too.
  rm -f "$out"
  echo "granian-ts: C codec not built ($1): the workers use the pure-Python one" >&2
  exit 0
}
command -v "$cc" >/dev/null 2>&1 || skip "no C compiler"
inc=$("$py" -c 'import sysconfig; print(sysconfig.get_path("include"))' 2>/dev/null) || skip "no $py"
[ -f "$inc/Python.h" ] || skip "no Python.h in $inc"
tmp="$out.$$"
trap 'rm -f "$tmp"' EXIT
"$cc" -O2 -Wall -shared -fPIC -I"$inc" "$src" -o "$tmp" || skip "the compiler failed"
# Renamed into place, never written over: a running worker may have the old file mapped.
mv -f "$tmp" "$out"
GRANIAN_TS_SPEEDUPS=1 PYTHONPATH=python "$py" -c 'from granian_ts import protocol; assert protocol.speedups is not None' \
  || skip "the built module does not load"
