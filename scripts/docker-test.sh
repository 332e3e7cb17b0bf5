#!/bin/sh
# Build the Dockerfile for real and check the image: it serves, `docker stop` drains an
# in-flight request and exits 0 well inside its 10 s, the health check turns healthy, the
# server runs as PID 1 and not as root. Not part of `npm test` (it needs a Docker daemon).
#
# Where no registry image can be pulled, the base `oven/bun:<version>-debian` is built here as
# a stand-in when it is missing: a Debian bookworm rootfs (debootstrap, cached in .cache/docker),
# the host's CA bundle (so HTTPS installs work behind a TLS-intercepting proxy), and the Bun
# binary of the `bun` npm package. The Dockerfile itself is built unchanged.
#
#   sh scripts/docker-test.sh            # KEEP=1 keeps the container and image afterwards
set -eu
cd "$(dirname "$0")/.."
ROOT=$PWD
CACHE=$ROOT/.cache/docker
mkdir -p "$CACHE" "$CACHE/empty-context"
say() { printf '\n== %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

need() { command -v "$1" >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2"; }; }
need dockerd docker.io
need debootstrap debootstrap
need curl curl
need docker-compose docker-compose
need wrk wrk
[ -x node_modules/bun/bin/bun.exe ] || npm install --no-audit --no-fund --loglevel=error

say "docker daemon"
if ! docker info >/dev/null 2>&1; then
  dockerd >"$CACHE/dockerd.log" 2>&1 &
  i=0
  until docker info >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -le 300 ] || fail "dockerd did not come up (see $CACHE/dockerd.log)"; sleep 0.1
  done
  echo "started dockerd (log: $CACHE/dockerd.log)"
else
  echo "already running"
fi

# The Bun this package is tested with (the `bun` dev dependency, the version of the platform packages).
BUN_VERSION=$(node -p 'const p = require("./package.json"); (p.dependencies || {}).bun || p.devDependencies.bun')
BASE=oven/bun:$BUN_VERSION-debian
say "base image $BASE"
if docker image inspect "$BASE" >/dev/null 2>&1; then
  echo "present: $(docker image inspect -f '{{index .Config.Labels "granian-ts.stand-in"}}' "$BASE" | sed 's/^true$/(the local stand-in)/')"
else
  if [ ! -f "$CACHE/rootfs/.complete" ]; then
    rm -rf "$CACHE/rootfs" "$CACHE/rootfs.partial"
    debootstrap --variant=minbase bookworm "$CACHE/rootfs.partial" http://deb.debian.org/debian >"$CACHE/debootstrap.log" 2>&1 ||
      fail "debootstrap failed (see $CACHE/debootstrap.log)"
    rm -rf "$CACHE/rootfs.partial/var/cache/apt/archives/"*.deb
    touch "$CACHE/rootfs.partial/.complete"
    mv "$CACHE/rootfs.partial" "$CACHE/rootfs"
  else
    echo "rootfs from cache ($CACHE/rootfs)"
  fi
  STAGE=$CACHE/stage
  rm -rf "$STAGE" && mkdir -p "$STAGE"
  cp -a "$CACHE/rootfs/." "$STAGE/"
  rm -f "$STAGE/.complete"
  mkdir -p "$STAGE/etc/ssl/certs" "$STAGE/usr/local/share/ca-certificates"
  cp /etc/ssl/certs/ca-certificates.crt "$STAGE/etc/ssl/certs/"
  for crt in /usr/local/share/ca-certificates/*; do [ -f "$crt" ] && cp "$crt" "$STAGE/usr/local/share/ca-certificates/"; done
  cp "$(readlink -f node_modules/bun/bin/bun.exe)" "$STAGE/usr/local/bin/bun"
  ln -sf bun "$STAGE/usr/local/bin/bunx"
  "$STAGE/usr/local/bin/bun" --version >/dev/null || fail "the bun binary from npm does not run"
  tar -C "$STAGE" -c . | docker import \
    --change 'LABEL granian-ts.stand-in=true' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bun"]' - "$BASE" >/dev/null
  rm -rf "$STAGE"
  echo "imported the stand-in: $(docker run --rm "$BASE" sh -c '. /etc/os-release; echo "$PRETTY_NAME, bun $(bun --version)"')"
fi

IMAGE=granian-ts:docker-test
NAME=granian-ts-docker-test
say "docker build -t $IMAGE ."
# The host network only gives the build's RUN steps the host's way out to the package registries.
docker build --network host --build-arg BUN_VERSION="$BUN_VERSION" -t "$IMAGE" . >"$CACHE/build.log" 2>&1 ||
  { tail -n 30 "$CACHE/build.log"; fail "docker build failed (full log: $CACHE/build.log)"; }
tail -n 3 "$CACHE/build.log"
SIZE=$(docker image inspect -f '{{.Size}}' "$IMAGE")
BASE_SIZE=$(docker image inspect -f '{{.Size}}' "$BASE")
echo "image size: $((SIZE / 1000000)) MB (base $BASE: $((BASE_SIZE / 1000000)) MB, added: $(((SIZE - BASE_SIZE) / 1000000)) MB)"

cleanup() {
  [ "${KEEP:-}" = 1 ] && return
  docker rm -f "$NAME" >/dev/null 2>&1 || true
}
trap cleanup EXIT
docker rm -f "$NAME" >/dev/null 2>&1 || true

say "docker run"
docker run -d --name "$NAME" -p 127.0.0.1::8000 "$IMAGE" >/dev/null
PORT=$(docker port "$NAME" 8000/tcp | head -n 1 | sed 's/.*://')
URL=http://127.0.0.1:$PORT
i=0
until curl -fsS "$URL/" >/dev/null 2>&1; do
  i=$((i + 1))
  [ $i -le 300 ] || { docker logs "$NAME"; fail "the container did not answer on $URL within 30 s"; }
  [ "$(docker inspect -f '{{.State.Running}}' "$NAME")" = true ] || { docker logs "$NAME"; fail "the container exited"; }
  sleep 0.1
done
echo "GET / -> $(curl -fsS "$URL/")"
[ "$(curl -fsS "$URL/items/7?q=x")" = '{"item_id":7,"q":"x"}' ] || fail "GET /items/7 answered wrong"
echo "GET /items/7?q=x ok"

say "process and user"
PID1=$(docker exec "$NAME" cat /proc/1/cmdline | tr '\0' ' ')
echo "PID 1: $PID1"
case "$PID1" in bun*granian-ts.mjs\ serve*) ;; *) fail "PID 1 is not granian-ts serve" ;; esac
# The granian-ts command on PATH (what users type in `docker exec` or a derived image) runs without Node.
VERSION=$(docker exec "$NAME" granian-ts --version) || fail "granian-ts --version does not run in the image"
echo "granian-ts on PATH: $VERSION"
USER_ID=$(docker exec "$NAME" id -u)
echo "uid: $USER_ID ($(docker exec "$NAME" id -un))"
[ "$USER_ID" != 0 ] || fail "the server runs as root"
# The C codec the build stage made loads in the image's Python (README, --speedups).
CODEC=$(docker exec "$NAME" python3 -c 'import sys; sys.path.insert(0, "/opt/granian-ts/python"); from granian_ts import protocol; print("C" if protocol.speedups else "pure")')
echo "worker frame codec: $CODEC"
[ "$CODEC" = C ] || fail "the image's workers do not load the C codec"

say "health check"
i=0
until [ "$(docker inspect -f '{{.State.Health.Status}}' "$NAME")" = healthy ]; do
  i=$((i + 1)); [ $i -le 300 ] || fail "not healthy within 30 s: $(docker inspect -f '{{json .State.Health}}' "$NAME")"; sleep 0.1
done
echo "healthy after $(docker inspect -f '{{len .State.Health.Log}}' "$NAME") check(s)"

say "docker stop drains an in-flight request"
OUT=$CACHE/slow.out
rm -f "$OUT"
# 6 chunks, 0.5 s apart: a 3 s response, in flight when the stop comes.
curl -fsS -N "$URL/stream?n=6&delay=0.5" >"$OUT" &
CURL=$!
i=0
until [ -s "$OUT" ]; do i=$((i + 1)); [ $i -le 100 ] || fail "the slow request did not start"; sleep 0.05; done
T0=$(date +%s.%N)
docker stop "$NAME" >/dev/null
T1=$(date +%s.%N)
wait $CURL || fail "the in-flight request failed during docker stop (curl exit $?)"
STOP_S=$(echo "$T1 - $T0" | bc 2>/dev/null || awk "BEGIN { print $T1 - $T0 }")
CODE=$(docker inspect -f '{{.State.ExitCode}}' "$NAME")
echo "docker stop took ${STOP_S}s, exit code $CODE, in-flight response: $(wc -l <"$OUT") of 6 chunks"
[ "$(wc -l <"$OUT")" = 6 ] || fail "the in-flight response was cut"
[ "$CODE" = 0 ] || { docker logs "$NAME" | tail -n 20; fail "exit code $CODE"; }
awk "BEGIN { exit !($STOP_S < 8) }" || fail "docker stop took ${STOP_S}s (Docker kills at 10 s)"
echo "--- container log (tail)"
docker logs "$NAME" 2>&1 | tail -n 6

say "examples/deploy/docker-compose.yml: nginx + two instances, rolled under load"
# The compose file's images: granian-ts is the image just built; nginx:stable, when it cannot be
# pulled, is a stand-in: Debian's nginx on the same base, reading conf.d as the official image.
docker tag "$IMAGE" granian-ts
if ! docker image inspect nginx:stable >/dev/null 2>&1; then
  printf '%s\n' \
    "FROM $BASE" \
    'RUN apt-get update && apt-get install -y --no-install-recommends nginx && apt-get clean \' \
    ' && rm -rf /var/lib/apt/lists/* /etc/nginx/sites-enabled/default \' \
    ' && ln -sf /dev/stdout /var/log/nginx/access.log && ln -sf /dev/stderr /var/log/nginx/error.log' \
    'LABEL granian-ts.stand-in=true' \
    'STOPSIGNAL SIGQUIT' \
    'CMD ["nginx", "-g", "daemon off;"]' >"$CACHE/nginx.Dockerfile"
  docker build --network host -t nginx:stable -f "$CACHE/nginx.Dockerfile" "$CACHE/empty-context" >"$CACHE/nginx-build.log" 2>&1 ||
    { tail -n 20 "$CACHE/nginx-build.log"; fail "nginx stand-in build failed"; }
  echo "built the nginx:stable stand-in (Debian's nginx)"
fi
COMPOSE="docker-compose -f examples/deploy/docker-compose.yml -p granian-ts-deploy-test"
NGINX_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export NGINX_PORT
compose_down() { $COMPOSE down -t 30 >/dev/null 2>&1 || true; }
trap 'cleanup; compose_down' EXIT
$COMPOSE up -d --no-build >"$CACHE/compose.log" 2>&1 || { cat "$CACHE/compose.log"; fail "docker-compose up failed"; }
NURL=http://127.0.0.1:$NGINX_PORT
i=0
until curl -fsS "$NURL/" >/dev/null 2>&1; do
  i=$((i + 1))
  [ $i -le 600 ] || { $COMPOSE logs | tail -n 30; fail "nginx did not answer on $NURL within 60 s"; }
  sleep 0.1
done
echo "through nginx: GET / -> $(curl -fsS "$NURL/")"
for svc in app1 app2; do
  LISTEN=$($COMPOSE logs "$svc" | grep -o 'Listening at: [^ ]*' | tail -n 1)
  echo "$svc: $LISTEN"
  case "$LISTEN" in *+unix://*) ;; *) fail "$svc is not on its Unix socket" ;; esac
done
healthy() { [ "$(docker inspect -f '{{.State.Health.Status}}' "$($COMPOSE ps -q "$1")")" = healthy ]; }
WRK_OUT=$CACHE/wrk.out
wrk -t1 -c8 -d300s "$NURL/" >"$WRK_OUT" 2>&1 &
WRK=$!
SLOW_LOG=$CACHE/slow.log
: >"$SLOW_LOG"
# Streamed responses of 1 s, back to back: some are in flight on the instance that stops.
(while :; do
  if [ "$(curl -fsS -N "$NURL/stream?n=4&delay=0.25" | wc -l)" = 4 ]; then echo ok; else echo FAIL; fi >>"$SLOW_LOG"
done) &
SLOW=$!
for svc in app1 app2; do
  T0=$(date +%s.%N)
  $COMPOSE restart "$svc" >/dev/null 2>&1
  i=0
  until healthy "$svc"; do i=$((i + 1)); [ $i -le 600 ] || fail "$svc not healthy again within 60 s"; sleep 0.1; done
  echo "restarted $svc (stop, drain, start): healthy again after $(awk "BEGIN { printf \"%.1f\", $(date +%s.%N) - $T0 }") s"
done
kill -INT $WRK
wait $WRK || true
kill $SLOW
wait $SLOW 2>/dev/null || true
SLOW_FAILS=$(grep -c FAIL "$SLOW_LOG" || true)
echo "wrk through nginx during the roll: $(grep -E 'requests in|Non-2xx|Socket errors' "$WRK_OUT" | sed 's/^ *//' | tr '\n' ' ')"
echo "slow streamed requests: $(grep -c ok "$SLOW_LOG") ok, $SLOW_FAILS failed"
! grep -qE 'Non-2xx|Socket errors' "$WRK_OUT" || fail "wrk saw failed requests"
[ "$SLOW_FAILS" = 0 ] || fail "slow requests failed during the roll"
compose_down

say "PASS: $IMAGE ($((SIZE / 1000000)) MB) serves, drains on docker stop, exits 0, turns healthy, runs as uid $USER_ID; compose roll lost no request"
