# granian-ts on oven/bun (Debian): Bun + python3 + a venv with the app's requirements, the app in
# /app, `granian-ts serve` as PID 1 as a non-root user. Build and try it:
#
#   docker build -t granian-ts .                       # the bundled example (examples/fastapi_app.py)
#   docker run --rm -p 8000:8000 granian-ts
#
# Your own app: build FROM this image (README, "Docker"), or point APP_DIR / REQUIREMENTS / APP
# at it here. scripts/docker-test.sh builds it and checks serving, draining and the health check.
ARG BUN_VERSION=1.4.5

# --- runtime base: what both stages share (the venv's python3 must be the same in both) ---
FROM oven/bun:${BUN_VERSION}-debian AS base
# ca-certificates: the system bundle (plus any CA in /usr/local/share/ca-certificates, as behind
# a TLS-intercepting proxy) for pip and bun; the final image keeps it for the app's own HTTPS.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 ca-certificates \
 && apt-get clean && rm -rf /var/lib/apt/lists/*
ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

# --- build: the venv and granian-ts's JS dependencies; nothing of this stage but its output ships ---
FROM base AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3-venv \
 && apt-get clean && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /opt/venv
ARG REQUIREMENTS=requirements.txt
COPY ${REQUIREMENTS} /tmp/requirements.txt
RUN pip install --no-cache-dir --disable-pip-version-check -r /tmp/requirements.txt
WORKDIR /opt/granian-ts
COPY package.json ./
# The image has Bun already: drop the npm Bun packages (a second Bun binary) and dev tools.
RUN bun -e 'const p = await Bun.file("package.json").json(); delete p.dependencies.bun; delete p.devDependencies; delete p.optionalDependencies; await Bun.write("package.json", JSON.stringify(p, null, 2))' \
 && bun install --production --no-save \
 && rm -rf ~/.bun/install/cache
COPY bin bin
COPY cli cli
COPY src src
COPY python/granian_ts python/granian_ts
# The workers' optional C codec, built here against the image's own python3 (README, --speedups);
# the compiler and headers stay in this stage.
COPY scripts/build-speedups.sh /tmp/build-speedups.sh
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev python3-dev \
 && sh /tmp/build-speedups.sh python3 \
 && test -f python/granian_ts/_speedups.abi3.so \
 && apt-get clean && rm -rf /var/lib/apt/lists/*

# --- final image ---
FROM base
# /run/granian-ts: where `GRANIAN_UDS` sockets go (a volume shared with a proxy takes its owner).
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --home-dir /app --shell /usr/sbin/nologin app \
 && install -d -o app -g app /run/granian-ts
COPY --from=build /opt/venv /opt/venv
COPY --from=build /opt/granian-ts /opt/granian-ts
RUN ln -s /opt/granian-ts/bin/granian-ts /usr/local/bin/granian-ts
ARG APP_DIR=examples
COPY --chown=app:app ${APP_DIR} /app
WORKDIR /app
USER app
# GRANIAN_* are the options of `serve` (README, "Options"). The shutdown timeout stays under
# `docker stop`'s 10 s, so in-flight requests finish before Docker would SIGKILL.
# BUN_JSC_forceRAMSize, BUN_JSC_largeHeapSize: what bin/granian-ts sets (README, "Installing"),
# for this entry point.
ENV BUN_JSC_forceRAMSize=1073741824 \
    BUN_JSC_largeHeapSize=12582912 \
    GRANIAN_HOST=0.0.0.0 \
    GRANIAN_PORT=8000 \
    GRANIAN_INTERFACE=asgi \
    GRANIAN_TS_SHUTDOWN_TIMEOUT=8 \
    GRANIAN_TS_HEALTH_PATH=/ \
    APP=fastapi_app:app
EXPOSE 8000
# Any answer below 500 is healthy: the server is up and the app answers (on GRANIAN_UDS if set).
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=3 \
  CMD ["bun", "-e", "const e = process.env; fetch(e.GRANIAN_UDS ? `http://localhost${e.GRANIAN_TS_HEALTH_PATH}` : `http://127.0.0.1:${e.GRANIAN_PORT}${e.GRANIAN_TS_HEALTH_PATH}`, { unix: e.GRANIAN_UDS || undefined }).then(r => process.exit(r.status < 500 ? 0 : 1), () => process.exit(1))"]
# Bun is PID 1 and handles SIGTERM itself (drain, lifespan shutdown, exit 0); sh only expands $APP.
ENTRYPOINT ["/bin/sh", "-c", "exec bun /opt/granian-ts/bin/granian-ts.mjs serve \"$@\" \"$APP\"", "granian-ts"]
CMD []
