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
import { websocketHandlers, type WsSession } from "./_websocket.ts";
import { serveHTTP } from "./_http.ts";
import { serveTLS } from "./tls.ts";

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
  // Composed from the units; Bun's types keep `unix` and the TCP-only options apart, but
  // idleTimeout and http1/http2 apply on a Unix socket too.
  const options = {
    ...(c.unix !== null ? { unix: c.unix } : { hostname: c.hostname, port: c.port, reusePort: true }),
    ...(c.tls ? { tls: serveTLS(c.tls) } : {}),
    ...serveHTTP(c.http),
    development: false,
    // Bodies stream through with flow control, so Bun's whole-body cap does not apply.
    maxRequestBodySize: Number.MAX_SAFE_INTEGER,
    fetch: (req: Request, srv: Server<unknown>) => bridge!.handle(req, srv),
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
