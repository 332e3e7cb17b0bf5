/**
 * `createHandler`: a Python app as a Bun `fetch` handler, for a Bun server the user already
 * runs (plain `Bun.serve`, Hono, Elysia). The pieces of `serve` without its listener threads:
 * the Python workers (src/_python.ts) and one `WorkerBridge` per worker (src/_bridge.ts) on the
 * calling thread, so a request goes from the host's `Bun.serve` straight into frames on the
 * worker's socket, as it does on a `serve` listener thread: no extra copy, no extra hop.
 */
import type { Server } from "bun";
import { consola } from "./logs/_consola.ts";
import { WorkerBridge } from "./_bridge.ts";
import { setLogLevel } from "./logs/index.ts";
import { PythonWorker } from "./_python.ts";
import { RoutingTable, SlotState, WorkerPool } from "./_routing.ts";
import { websocketHandlers } from "./_websocket.ts";
import { getInterface } from "./interfaces/index.ts";
import { resolveOptions, type ResolvedOptions } from "./options.ts";
import type { HandlerOptions, PythonHandler } from "./types.ts";
import { within } from "./_within.ts";

const log = consola.withTag("granian-ts");

/** What the bridge asks of a server when the caller passed none: no client address, no upgrades. */
const NO_SERVER = { requestIP: () => null, upgrade: () => false } as unknown as Server<unknown>;

const CLOSED = () =>
  new Response("Service Unavailable", { status: 503, headers: { "content-type": "text/plain; charset=utf-8" } });

/** A worker that dies this soon after its start counts as a crash loop... */
const CRASH_WINDOW_MS = 5000;
/** ...and after this many in a row it is not replaced. */
const MAX_QUICK_CRASHES = 3;

/**
 * Start the Python workers and resolve once every one of them is ready (app imported, lifespan
 * started). Throws `OptionError` on a bad option and `StartupError` when the app fails to start.
 */
export async function createHandler(options: HandlerOptions): Promise<PythonHandler> {
  const opts = resolveOptions(options as Record<string, unknown>);
  getInterface(opts.interface);
  // The host application owns the log level unless it asks for one.
  if (options.logLevel !== undefined) setLogLevel(opts.logLevel);
  const handler = new EmbeddedHandler(opts);
  await handler.start();
  return handler;
}

class EmbeddedHandler implements PythonHandler {
  /** The workers by routing slot (worker index - 1); a replacement takes its predecessor's slot. */
  private readonly workers: (PythonWorker | null)[];
  private readonly table: RoutingTable;
  private readonly pool: WorkerPool;
  private closing: Promise<void> | null = null;
  /** The mount point without its trailing slash ("" when mounted at the root). */
  private readonly prefix: string;
  readonly websocket;

  private readonly opts: ResolvedOptions;

  constructor(opts: ResolvedOptions) {
    this.prefix = opts.urlPathPrefix.replace(/\/+$/, "");
    // The workers get the mount point as the prefix check reads it: "/py/" is "/py".
    this.opts = { ...opts, urlPathPrefix: this.prefix };
    this.websocket = websocketHandlers({
      maxMessageSize: opts.wsMaxMessageSize,
      pingInterval: opts.wsPingInterval,
      compression: opts.wsCompression,
    });
    this.workers = new Array(opts.workers).fill(null);
    // The routing of `serve`'s listener threads (src/_routing.ts), here on one thread.
    this.table = new RoutingTable(opts.workers);
    this.pool = new WorkerPool(this.table, {
      backpressure: opts.backpressure,
      queueSize: opts.backpressureQueue,
      queueTimeoutMs: opts.backpressureTimeout * 1000,
      bodyReadTimeoutMs: opts.bodyReadTimeout,
    });
  }

  async start() {
    // Every start is awaited, failed or not, so that none is left running when one fails.
    const results = await Promise.allSettled(this.workers.map((_, slot) => this.startWorker(slot)));
    const failed = results.find((r) => r.status === "rejected") as PromiseRejectedResult | undefined;
    if (failed) {
      await this.close();
      throw failed.reason;
    }
  }

  /** Start the worker of `slot`, connect to it and route to it; watch it from then on. */
  private async startWorker(slot: number, crashes = 0): Promise<void> {
    const worker = new PythonWorker(this.opts, slot + 1);
    this.workers[slot] = worker;
    const startedAt = performance.now();
    try {
      await worker.start();
      if (this.closing) throw new Error("closing");
      const bridge: WorkerBridge = new WorkerBridge({
        socketPath: worker.socketPath,
        scheme: "http",
        // The host app's Bun.serve may speak HTTP/1.1 or HTTP/2: told per request, as in the listener.
        http: "auto",
        // The pool holds requests back; the bridge never queues.
        backpressure: Number.MAX_SAFE_INTEGER,
        websocket: this.opts.ws,
        onClose: () => this.pool.detach(slot, bridge),
        onRelease: () => this.pool.released(slot),
      });
      await bridge.connect();
      this.table.reset(slot);
      this.pool.attach(slot, bridge);
      this.table.setState(slot, SlotState.UP);
    } catch (err) {
      await worker.stop(1000);
      throw err;
    }
    worker.exited.then((code) => this.onExit(slot, worker, code, performance.now() - startedAt < CRASH_WINDOW_MS ? crashes + 1 : 0));
  }

  /**
   * A worker that dies while we are not closing is replaced (a host app has nobody else to do
   * it), unless it keeps dying right after its start: then its slot stays down and the other
   * workers serve.
   */
  private async onExit(slot: number, worker: PythonWorker, code: number, crashes: number) {
    this.table.setState(slot, SlotState.DOWN);
    if (worker.stopping || this.closing) return;
    const what = `worker ${worker.index} (pid ${worker.pid})`;
    if (crashes >= MAX_QUICK_CRASHES) {
      log.error(`${what} died with exit code ${code}, ${crashes} times in a row within ${CRASH_WINDOW_MS / 1000} s of starting: not respawning it`);
      return;
    }
    log.error(`${what} died with exit code ${code}; its in-flight requests got 502; respawning`);
    try {
      await this.startWorker(slot, crashes);
      log.info(`worker ${worker.index} respawned (pid ${this.workers[slot]!.pid})`);
    } catch (err) {
      if (!this.closing) log.error(`worker ${worker.index} could not be respawned: ${(err as Error).message}`);
    }
  }

  /** An arrow function, so `py.fetch` can be handed around unbound (`app.mount("/py", py.fetch)`). */
  fetch = (req: Request, server?: Server<unknown>): Promise<Response> | Response => {
    if (this.closing) return CLOSED();
    if (this.prefix) req = this.withPrefix(req);
    return this.pool.handle(req, server ?? NO_SERVER);
  };

  /**
   * The app sees the path the client sent, mount point included (ASGI `path` under
   * `root_path`, WSGI `SCRIPT_NAME` + `PATH_INFO`), as behind a proxy that keeps the prefix.
   * A host that strips the prefix before calling (Hono's and Elysia's `mount`) gets it put back;
   * one that keeps it (`app.all("/py/*", …)`) passes straight through.
   */
  private withPrefix(req: Request): Request {
    const url = req.url;
    const p = url.indexOf("/", url.indexOf("//") + 2);
    const prefix = this.prefix;
    if (p >= 0 && url.startsWith(prefix, p)) {
      const next = url.charCodeAt(p + prefix.length);
      // "/", "?" or the end: the prefix is a whole path segment.
      if (next !== next || next === 47 || next === 63) return req;
    }
    const rest = p < 0 ? "/" : url.slice(p);
    return new Request(url.slice(0, p < 0 ? url.length : p) + prefix + rest, req);
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  /** Websockets close as "going away", in-flight requests finish (bounded), then lifespan shutdown. */
  private async shutdown() {
    this.pool.refuseQueued();
    const bridges = this.pool.bridgesInUse;
    for (const b of bridges) b.closeWebsockets(1001, "server shutting down");
    const drained = Promise.all(bridges.map((b) => b.drained()));
    await within(drained, this.opts.shutdownTimeout * 1000);
    for (const b of bridges) b.close();
    await Promise.all(this.workers.map((w) => w?.stop()));
  }
}
