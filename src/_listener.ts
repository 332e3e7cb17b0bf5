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
import { websocketHandlers, type WsSession } from "./_websocket.ts";
import { serveHTTP } from "./_http.ts";
import { serveTLS } from "./tls.ts";
import { withStaticFiles } from "./static/index.ts";
import { ListenerMetrics } from "./metrics/index.ts";
import { proxyResolver, type ProxyResolver } from "./_proxy.ts";

declare const self: Worker;
const post = (e: ListenerEvent) => self.postMessage(e);

let server: Server<unknown> | null = null;
let bridge: WorkerBridge | null = null;
let config: ListenerConfig;
/** Told about every response (access log, metrics), or undefined: then nothing is measured per request. */
let observe: ResponseObserver | undefined;
let observeStatic: ResponseObserver | undefined;
let flushLogs = () => {};
let proxy: ProxyResolver | undefined;

/** One observer from two, either of which may be off. */
function both(a?: ResponseObserver, b?: ResponseObserver): ResponseObserver | undefined {
  if (!a || !b) return a ?? b;
  return (req, client, status, t0, size) => {
    a(req, client, status, t0, size);
    b(req, client, status, t0, size);
  };
}

/** The client address as the bridge reports it (IPv4-mapped IPv6 unwrapped). */
function clientOf(srv: Server<unknown>, req: Request): string {
  const a = srv.requestIP(req)?.address ?? "";
  return a.startsWith("::ffff:") ? a.slice(7) : a;
}

function makeBridge(socketPath: string) {
  const b = new WorkerBridge({
    socketPath,
    scheme: config.tls ? "https" : "http",
    http: config.http.mode,
    // Long-running requests (slow apps, long polls) must not be cut by the idle timer that
    // bounds idle keep-alive connections and slow headers: held requests lift it.
    hold: (req) => server?.timeout(req, 0),
    unhold: (req) => {
      try {
        server?.timeout(req, config.http.idleTimeout);
      } catch {}
    },
    backpressure: config.backpressure,
    websocket: config.ws,
    accessLog: observe,
    proxy,
    onClose: () => post({ type: "disconnected" }),
  });
  return b;
}

async function start(c: ListenerConfig) {
  config = c;
  const logs = configureLogs(c.options);
  proxy = proxyResolver(c.options);
  const access = accessLog(c.options, logs, c.tls ? "https" : "http", c.http.mode);
  if (access) flushLogs = () => access.sink.close();
  const metrics = c.options.metrics ? new ListenerMetrics(c.index, c.options.interface) : undefined;
  observe = both(access?.observe, metrics?.observe);
  observeStatic = both(access?.observe, metrics?.observeStatic);
  if (metrics) {
    const gauges = { inFlight: () => bridge?.inFlight ?? 0, queued: () => bridge?.queueLength ?? 0, websockets: () => bridge?.websockets ?? 0 };
    const report = () => post({ type: "metrics", snapshot: metrics.snapshot(gauges) });
    setInterval(report, c.options.metricsScrapeInterval * 1000);
    setTimeout(report, 0);
  }
  bridge = makeBridge(c.socketPath);
  await bridge.connect();
  // Composed from the units; Bun's types keep `unix` and the TCP-only options apart, but
  // idleTimeout and http1/http2 apply on a Unix socket too.
  const options = {
    ...(c.unix !== null ? { unix: c.unix } : { hostname: c.hostname, port: c.port, reusePort: true }),
    ...(c.tls ? { tls: serveTLS(c.tls) } : {}),
    ...serveHTTP(c.http),
    development: false,
    // Bodies stream through with flow control, so Bun's whole-body cap does not apply.
    maxRequestBodySize: Number.MAX_SAFE_INTEGER,
    fetch: withStaticFiles(
      c.options,
      (req, srv) => bridge!.handle(req, srv),
      observeStatic && ((req, srv, res, t0) => observeStatic!(req, clientOf(srv, req), res.status, t0, Number(res.headers.get("content-length") ?? -1))),
    ),
    websocket: websocketHandlers({
      maxMessageSize: c.wsMaxMessageSize,
      pingInterval: c.wsPingInterval,
      compression: c.wsCompression,
    }),
    error: (err: Error) => {
      consola.withTag("listener").error(err);
      return new Response("Internal server error", { status: 500 });
    },
  };
  server = Bun.serve(options as Bun.Serve.Options<WsSession>);
  post({ type: "listening", port: server.port ?? 0 });
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
