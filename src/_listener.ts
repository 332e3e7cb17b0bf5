/**
 * A listener thread: its own Bun.serve on the shared port (SO_REUSEPORT spreads connections
 * across threads) and its own connection to every Python worker, which its `WorkerPool`
 * (src/_routing.ts) routes requests over. Started by the supervisor (src/_supervisor.ts) with
 * a "start" message; "attach" and "detach" follow the workers as they come and go.
 */
import type { Server } from "bun";
import { consola } from "./logs/_consola.ts";
import { WorkerBridge } from "./_bridge.ts";
import { RoutingTable, WorkerPool } from "./_routing.ts";
import type { ListenerCommand, ListenerConfig, ListenerEvent, WorkerAddress } from "./types.ts";
import { accessLog, configureLogs, type ResponseObserver } from "./logs/index.ts";
import { websocketHandlers, type WsSession } from "./_websocket.ts";
import { closingConnections, serveHTTP } from "./_http.ts";
import { serveTLS } from "./tls.ts";
import { withStaticFiles } from "./static/index.ts";
import { ListenerMetrics } from "./metrics/index.ts";
import { proxyResolver, type ProxyResolver } from "./_proxy.ts";
import { advertiseHTTP3, serveHTTP3 } from "./_http3.ts";
import { within } from "./_within.ts";

declare const self: Worker;

/** Where a listener reports to: its Worker's port, or the supervisor itself on the main thread. */
export interface ListenerHost {
  post(e: ListenerEvent): void;
  /** Called once the listener has stopped: a Worker ends its thread. */
  exit(): void;
}

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

async function detachFrom(pool: WorkerPool, slot: number, timeoutMs: number) {
  const b = pool.bridge(slot);
  if (b) {
    const deadline = performance.now() + timeoutMs;
    await within(b.drained(), timeoutMs);
    while (b.websockets > 0 && b.connected && performance.now() < deadline) await Bun.sleep(20);
    b.closeWebsockets(1012, "service restart"); // RFC 6455 §7.4.1 (IANA registry): try again
    pool.detach(slot, b);
    b.close();
  }
}

/** How long a draining listener keeps accepting while busy connections learn they must close. */
const CLOSE_NOTICE_MS = 500;

const failed = (err: unknown) => String((err as Error)?.message ?? err);

/**
 * A listener: its state and the handler of the supervisor's commands. Each thread runs one;
 * the first also runs on the main thread (src/supervisor/_listeners.ts), so nothing here is
 * global to the thread.
 */
export function createListener(host: ListenerHost): (cmd: ListenerCommand) => void {
  const post = host.post;

  let server: Server<unknown> | null = null;
  let pool: WorkerPool;
  /** --http3: the UDP listener and its pool of bridges that tell the app "3" (src/_http3.ts). */
  let h3: Server<unknown> | null = null;
  let h3pool: WorkerPool | null = null;
  let config: ListenerConfig;
  /** Told about every response (access log, metrics), or undefined: then nothing is measured per request. */
  let observe: ResponseObserver | undefined;
  let observeStatic: ResponseObserver | undefined;
  let flushLogs = () => {};
  let proxy: ProxyResolver | undefined;
  let stopReports = () => {};

  /** The units this thread composes around the pool (src/logs/, src/metrics/, src/_proxy.ts). */
  function composeUnits(c: ListenerConfig) {
    const logs = configureLogs(c.options);
    proxy = proxyResolver(c.options);
    const access = accessLog(c.options, logs, c.tls ? "https" : "http", c.http.mode);
    if (access) flushLogs = () => access.sink.close();
    const metrics = c.options.metrics ? new ListenerMetrics(c.index, c.options.interface) : undefined;
    observe = both(access?.observe, metrics?.observe);
    observeStatic = both(access?.observe, metrics?.observeStatic);
    if (metrics) {
      const sum = (f: (b: WorkerBridge) => number) => (pool ? pool.bridgesInUse.reduce((n, b) => n + f(b), 0) : 0);
      const gauges = { inFlight: () => sum((b) => b.inFlight), queued: () => pool?.queued ?? 0, websockets: () => sum((b) => b.websockets) };
      const report = () => post({ type: "metrics", snapshot: metrics.snapshot(gauges) });
      const timer = setInterval(report, c.options.metricsScrapeInterval * 1000);
      stopReports = () => clearInterval(timer);
      setTimeout(report, 0);
    }
  }

  /** Connect to the worker of `a.slot`; the pool routes to it once it is connected. */
  async function attach(a: WorkerAddress): Promise<void> {
    await Promise.all([
      connectBridge(a, pool, config.http.mode, () => server),
      h3pool && connectBridge(a, h3pool, "3", () => h3),
    ]);
  }

  async function connectBridge(a: WorkerAddress, pool: WorkerPool, http: "auto" | "1" | "2" | "3", srv: () => Server<unknown> | null) {
    const b: WorkerBridge = new WorkerBridge({
      socketPath: a.socketPath,
      scheme: config.tls ? "https" : "http",
      http,
      // Long-running requests (slow apps, long polls) must not be cut by the idle timer that
      // bounds idle keep-alive connections and slow headers: held requests lift it.
      hold: (req) => srv()?.timeout(req, 0),
      unhold: (req) => {
        try {
          srv()?.timeout(req, config.http.idleTimeout);
        } catch {}
      },
      // The pool holds requests back (over all threads); the bridge never queues.
      backpressure: Number.MAX_SAFE_INTEGER,
      websocket: config.ws,
      accessLog: observe,
      proxy,
      onClose: () => pool.detach(a.slot, b),
      onRelease: () => pool.released(a.slot),
      bodyReadTimeoutMs: config.bodyReadTimeoutMs,
    });
    await b.connect();
    pool.attach(a.slot, b);
  }

  /** Let the slot's requests and websockets finish (bounded), then disconnect from its worker. */
  async function detach(slot: number, timeoutMs: number) {
    await Promise.all([detachFrom(pool, slot, timeoutMs), h3pool && detachFrom(h3pool, slot, timeoutMs)]);
    post({ type: "detached", slot });
  }

  async function start(c: ListenerConfig, table: RoutingTable, workers: WorkerAddress[]) {
    config = c;
    composeUnits(c);
    const poolOptions = {
      backpressure: c.backpressure,
      queueSize: c.backpressureQueue,
      queueTimeoutMs: c.backpressureTimeoutMs,
      bodyReadTimeoutMs: c.bodyReadTimeoutMs,
    };
    pool = new WorkerPool(table, poolOptions);
    // Both pools count on the same table: a worker's backpressure covers its HTTP/3 requests too.
    if (c.http.http3) h3pool = new WorkerPool(table, poolOptions);
    await Promise.all(workers.map(attach));
    // Static files (src/static/) go before the pool; without a mount this is the pool itself.
    const direct = withStaticFiles(
      c.options,
      (req, srv) => pool.handle(req, srv),
      observeStatic && ((req, srv, res, t0) => observeStatic!(req, clientOf(srv, req), res.status, t0, Number(res.headers.get("content-length") ?? -1))),
    );
    const handle = c.http.http3 ? advertiseHTTP3(direct, () => server!.port!) : direct;
    // Composed from the units; Bun's types keep `unix` and the TCP-only options apart, but
    // idleTimeout and http1/http2 apply on a Unix socket too.
    const options = {
      ...(c.unix !== null ? { unix: c.unix } : { hostname: c.hostname, port: c.port, reusePort: true }),
      ...(c.tls ? { tls: serveTLS(c.tls) } : {}),
      ...serveHTTP(c.http),
      development: false,
      // Bodies stream through with flow control, so Bun's whole-body cap does not apply.
      maxRequestBodySize: Number.MAX_SAFE_INTEGER,
      fetch: c.http.keepAlive ? handle : closingConnections(handle),
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
    if (h3pool) {
      const p = h3pool;
      h3 = Bun.serve(serveHTTP3(c, server.port!, (req, srv) => p.handle(req, srv)) as Bun.Serve.Options<unknown>);
    }
    post({ type: "listening", port: server.port ?? 0 });
  }

  async function stop(timeoutMs: number) {
    if (server) {
      const s = server;
      server = null;
      const bridges = pool.bridgesInUse;
      for (const b of bridges) {
        // Keep-alive clients must send no new request on a connection that is about to close.
        b.closing = true;
        // Websockets do not finish on their own: they close as "going away" (RFC 6455 §7.4.1).
        b.closeWebsockets(1001, "server shutting down");
      }
      // Busy keep-alive connections get their `Connection: close` on the next response before
      // the port closes: a client whose connection is closed under it, between two requests,
      // sees an error where it would otherwise just reconnect.
      if (s.pendingRequests > 0) await Bun.sleep(Math.min(CLOSE_NOTICE_MS, timeoutMs));
      // Stop accepting; in-flight requests go on until they finish or the timeout hits.
      const graceful = s.stop(false);
      await within(Promise.all([graceful, ...bridges.map((b) => b.drained())]), timeoutMs);
      pool.refuseQueued();
      await s.stop(true);
    }
    if (h3 && h3pool) {
      const s = h3;
      h3 = null;
      await within(Promise.all([s.stop(false), ...h3pool.bridgesInUse.map((b) => b.drained())]), timeoutMs);
      h3pool.refuseQueued();
      await s.stop(true);
    }
    for (const b of [...(pool?.bridgesInUse ?? []), ...(h3pool?.bridgesInUse ?? [])]) b.close();
    stopReports();
    flushLogs();
    post({ type: "stopped" });
    host.exit();
  }

  return (cmd: ListenerCommand) => {
    switch (cmd.type) {
      case "start":
        start(cmd.config, new RoutingTable(cmd.slots, cmd.table), cmd.attach).catch((err) =>
          post({ type: "error", message: failed(err) }),
        );
        break;
      case "attach":
        attach(cmd).then(
          () => post({ type: "attached", slot: cmd.slot }),
          (err) => post({ type: "attached", slot: cmd.slot, error: failed(err) }),
        );
        break;
      case "detach":
        detach(cmd.slot, cmd.timeoutMs);
        break;
      case "stop":
        stop(cmd.timeoutMs);
        break;
    }
  };
}

if (!Bun.isMainThread) {
  // A listener thread: commands and events are the Worker's messages.
  const handle = createListener({ post: (e) => self.postMessage(e), exit: () => process.exit(0) });
  self.onmessage = (ev: MessageEvent<ListenerCommand>) => handle(ev.data);
}
