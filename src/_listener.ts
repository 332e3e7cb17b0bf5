/**
 * A listener thread: its own Bun.serve on the shared port (SO_REUSEPORT spreads connections
 * across threads) and its own connection to its Python worker. Started by the supervisor
 * (src/_supervisor.ts) with a "start" message.
 */
import type { Server } from "bun";
import { consola } from "consola";
import { WorkerBridge } from "./_bridge.ts";
import type { ListenerCommand, ListenerConfig, ListenerEvent } from "./types.ts";
import { accessLog, configureLogs, type ResponseObserver } from "./logs/index.ts";
import { websocketHandlers } from "./_websocket.ts";
import { withStaticFiles } from "./static/index.ts";

declare const self: Worker;
const post = (e: ListenerEvent) => self.postMessage(e);

let server: Server<unknown> | null = null;
let bridge: WorkerBridge | null = null;
let config: ListenerConfig;
/** Told about every response (access log), or undefined: then nothing is measured per request. */
let observe: ResponseObserver | undefined;
let flushLogs = () => {};

/** The client address as the bridge reports it (IPv4-mapped IPv6 unwrapped). */
function clientOf(srv: Server<unknown>, req: Request): string {
  const a = srv.requestIP(req)?.address ?? "";
  return a.startsWith("::ffff:") ? a.slice(7) : a;
}

function makeBridge(socketPath: string) {
  const b = new WorkerBridge({
    socketPath,
    scheme: "http",
    httpVersion: config.http === "2" ? "2" : "1.1",
    backpressure: config.backpressure,
    websocket: config.ws,
    accessLog: observe,
    onClose: () => post({ type: "disconnected" }),
  });
  return b;
}

async function start(c: ListenerConfig) {
  config = c;
  const logs = configureLogs(c.options);
  const access = accessLog(c.options, logs, "http", c.http === "2" ? "HTTP/2" : "HTTP/1.1");
  if (access) {
    observe = access.observe;
    flushLogs = () => access.sink.close();
  }
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
    fetch: withStaticFiles(
      c.options,
      (req, srv) => bridge!.handle(req, srv),
      observe && ((req, srv, res, t0) => observe!(req, clientOf(srv, req), res.status, t0, Number(res.headers.get("content-length") ?? -1))),
    ),
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
  flushLogs();
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
