/**
 * `createHandler`: a Python app as a Bun `fetch` handler, for a Bun server the user already
 * runs (plain `Bun.serve`, Hono, Elysia). The pieces of `serve` without its listener threads:
 * the Python workers (src/_python.ts) and one `WorkerBridge` per worker (src/_bridge.ts) on the
 * calling thread, so a request goes from the host's `Bun.serve` straight into frames on the
 * worker's socket, as it does on a `serve` listener thread: no extra copy, no extra hop.
 */
import type { Server } from "bun";
import { consola } from "consola";
import { WorkerBridge } from "./_bridge.ts";
import { setLogLevel } from "./_log.ts";
import { PythonWorker } from "./_python.ts";
import { websocketHandlers } from "./_websocket.ts";
import { getInterface } from "./interfaces/index.ts";
import { resolveOptions, type ResolvedOptions } from "./options.ts";
import type { HandlerOptions, PythonHandler } from "./types.ts";

const log = consola.withTag("granian-ts");

/** What the bridge asks of a server when the caller passed none: no client address, no upgrades. */
const NO_SERVER = { requestIP: () => null, upgrade: () => false } as unknown as Server<unknown>;

const CLOSED = () =>
  new Response("Service Unavailable", { status: 503, headers: { "content-type": "text/plain; charset=utf-8" } });

/** One Python worker and this thread's connection to it. */
interface Slot {
  worker: PythonWorker;
  bridge: WorkerBridge;
}

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
  private slots: Slot[] = [];
  private closing: Promise<void> | null = null;
  /** The mount point without its trailing slash ("" when mounted at the root). */
  private readonly prefix: string;
  readonly websocket;

  private readonly opts: ResolvedOptions;

  constructor(opts: ResolvedOptions) {
    this.prefix = opts.rootPath.replace(/\/+$/, "");
    // The workers get the mount point as the prefix check reads it: "/py/" is "/py".
    this.opts = { ...opts, rootPath: this.prefix };
    this.websocket = websocketHandlers({
      maxMessageSize: opts.wsMaxMessageSize,
      pingInterval: opts.wsPingInterval,
      compression: opts.wsCompression,
    });
  }

  async start() {
    try {
      const started = Array.from({ length: this.opts.workers }, (_, i) => this.startSlot(i + 1));
      // Every start is awaited, failed or not, so that none is left running when one fails.
      const results = await Promise.allSettled(started);
      for (const r of results) if (r.status === "fulfilled") this.slots.push(r.value);
      const failed = results.find((r) => r.status === "rejected") as PromiseRejectedResult | undefined;
      if (failed) throw failed.reason;
    } catch (err) {
      await this.close();
      throw err;
    }
    for (const slot of this.slots) this.watch(slot);
  }

  private async startSlot(index: number): Promise<Slot> {
    const worker = new PythonWorker(this.opts, index);
    try {
      await worker.start();
      const bridge = this.makeBridge(worker);
      await bridge.connect();
      return { worker, bridge };
    } catch (err) {
      await worker.stop(1000);
      throw err;
    }
  }

  private makeBridge(worker: PythonWorker) {
    return new WorkerBridge({
      socketPath: worker.socketPath,
      scheme: "http",
      // The host app's Bun.serve may speak HTTP/1.1 or HTTP/2: told per request, as in the listener.
      http: "auto",
      backpressure: this.opts.backpressure,
      websocket: this.opts.ws,
    });
  }

  /** A worker that dies while we are not closing is logged and respawned; the others serve meanwhile. */
  private watch(slot: Slot) {
    const worker = slot.worker;
    worker.exited.then(async (code) => {
      if (worker.stopping || this.closing) return;
      log.error(`worker ${worker.index} (pid ${worker.pid}) died with exit code ${code}; its in-flight requests got 502; respawning`);
      try {
        const fresh = await this.startSlot(worker.index);
        if (this.closing) return fresh.bridge.close(), await fresh.worker.stop(1000);
        slot.worker = fresh.worker;
        slot.bridge = fresh.bridge;
      } catch (err) {
        log.error(`worker ${worker.index} could not be respawned: ${(err as Error).message}`);
        return;
      }
      this.watch(slot);
      log.info(`worker ${worker.index} respawned (pid ${slot.worker.pid})`);
    });
  }

  /** The connected bridge with the fewest requests in flight. */
  private pick(): WorkerBridge {
    const slots = this.slots;
    let best = slots[0]!.bridge;
    for (let i = 1; i < slots.length; i++) {
      const b = slots[i]!.bridge;
      if (!best.connected || (b.connected && b.inFlight < best.inFlight)) best = b;
    }
    return best;
  }

  /** An arrow function, so `py.fetch` can be handed around unbound (`app.mount("/py", py.fetch)`). */
  fetch = (req: Request, server?: Server<unknown>): Promise<Response> | Response => {
    if (this.closing || this.slots.length === 0) return CLOSED();
    if (this.prefix) req = this.withPrefix(req);
    return this.pick().handle(req, server ?? NO_SERVER);
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
    const bridges = this.slots.map((s) => s.bridge);
    for (const b of bridges) b.closeWebsockets(1001, "server shutting down");
    const drained = Promise.all(bridges.map((b) => b.drained()));
    await Promise.race([drained, Bun.sleep(this.opts.shutdownTimeout * 1000)]);
    for (const b of bridges) b.close();
    await Promise.all(this.slots.map((s) => s.worker.stop()));
  }
}
