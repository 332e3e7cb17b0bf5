/**
 * A listener thread: its own Bun.serve on the shared port (SO_REUSEPORT spreads connections
 * across threads) and its own connection to its Python worker. Started by the supervisor
 * (src/_supervisor.ts) with a "start" message.
 */
import type { Server } from "bun";
import { consola } from "consola";
import { WorkerBridge, type AccessLogger } from "./_bridge.ts";
import type { ListenerCommand, ListenerConfig, ListenerEvent } from "./types.ts";
import { setLogLevel } from "./_log.ts";
import { websocketHandlers } from "./_websocket.ts";
import { withStaticFiles } from "./static/index.ts";

declare const self: Worker;
const post = (e: ListenerEvent) => self.postMessage(e);

let server: Server<unknown> | null = null;
let bridge: WorkerBridge | null = null;
let config: ListenerConfig;

function accessLogger(log: typeof consola): AccessLogger {
  return (req, client, status, t0) => {
    const url = req.url;
    const path = url.slice(url.indexOf("/", url.indexOf("//") + 2));
    log.info(`${client} - "${req.method} ${path} HTTP/1.1" ${status} ${(performance.now() - t0).toFixed(2)}ms`);
  };
}

function makeBridge(socketPath: string) {
  const b = new WorkerBridge({
    socketPath,
    scheme: "http",
    httpVersion: config.http === "2" ? "2" : "1.1",
    backpressure: config.backpressure,
    websocket: config.ws,
    accessLog: config.accessLog ? accessLogger(consola.withTag("access")) : undefined,
    onClose: () => post({ type: "disconnected" }),
  });
  return b;
}

async function start(c: ListenerConfig) {
  config = c;
  setLogLevel(c.logLevel);
  bridge = makeBridge(c.socketPath);
  await bridge.connect();
  server = Bun.serve({
    hostname: c.hostname,
    port: c.port,
    reusePort: true,
    development: false,
    http2: c.http !== "1",
    http1: c.http !== "2",
    // Bodies stream through with flow control, so Bun's whole-body cap does not apply.
    maxRequestBodySize: Number.MAX_SAFE_INTEGER,
    // Long-running requests (slow apps, long polls) must not be cut by Bun's 10 s default.
    idleTimeout: 0,
    fetch: withStaticFiles(c.options, (req, srv) => bridge!.handle(req, srv)),
    websocket: websocketHandlers({
      maxMessageSize: c.wsMaxMessageSize,
      pingInterval: c.wsPingInterval,
      compression: c.wsCompression,
    }),
    error: (err) => {
      consola.withTag("listener").error(err);
      return new Response("Internal server error", { status: 500 });
    },
  });
  post({ type: "listening", port: server.port! });
}

async function stop(timeoutMs: number) {
  if (server) {
    const s = server;
    server = null;
    // Websockets do not finish on their own: they close as "going away" (RFC 6455 §7.4.1).
    bridge?.closeWebsockets(1001, "server shutting down");
    // Stop accepting; in-flight requests go on until they finish or the timeout hits.
    const graceful = s.stop(false);
    const timer = new Promise((r) => setTimeout(r, timeoutMs));
    await Promise.race([Promise.all([graceful, bridge?.drained()]), timer]);
    await s.stop(true);
  }
  bridge?.close();
  post({ type: "stopped" });
  process.exit(0);
}

self.onmessage = (ev: MessageEvent<ListenerCommand>) => {
  const cmd = ev.data;
  switch (cmd.type) {
    case "start":
      start(cmd.config).catch((err) => post({ type: "error", message: String(err?.message ?? err) }));
      break;
    case "reconnect":
      bridge = makeBridge(cmd.socketPath);
      bridge.connect().catch((err) => post({ type: "error", message: String(err?.message ?? err) }));
      break;
    case "stop":
      stop(cmd.timeoutMs);
      break;
  }
};
