/**
 * The supervisor, on Bun's main thread: it starts the Python workers, then the listener
 * threads that feed them, notices a worker dying (its process exits), logs it and respawns
 * it, and runs the shutdown sequence. It never touches a request.
 */
import { consola } from "consola";
import { PythonWorker, StartupError } from "./_python.ts";
import type { ResolvedOptions } from "./options.ts";
import { MetricsExporter } from "./metrics/index.ts";
import { claimSocketPath, releaseSocketPath, socketBound } from "./_uds.ts";
import type { ListenConfig, ListenerCommand, ListenerEvent } from "./types.ts";

const log = consola.withTag("granian-ts");

interface Listener {
  thread: Worker;
  worker: number;
  events: ((e: ListenerEvent) => void)[];
}

function nextEvent(l: Listener, type: ListenerEvent["type"]): Promise<ListenerEvent> {
  return new Promise((resolve, reject) => {
    const on = (e: ListenerEvent) => {
      if (e.type === type) resolve(e);
      else if (e.type === "error") reject(new StartupError(e.message));
      else return l.events.push(on);
    };
    l.events.push(on);
  });
}

export class WorkerSupervisor {
  private workers: PythonWorker[] = [];
  /** --metrics: aggregates the listeners' snapshots and serves them. */
  private metrics: MetricsExporter | null = null;
  private listeners: Listener[] = [];
  private stopping = false;
  port = 0;
  private closedResolve!: () => void;
  readonly closed = new Promise<void>((r) => (this.closedResolve = r));

  constructor(
    private readonly opts: ResolvedOptions,
    private readonly listen: ListenConfig,
  ) {}

  async start(): Promise<void> {
    const o = this.opts;
    const uds = this.listen.uds;
    // Before any worker starts: a live server on the socket is an error, not a takeover.
    if (uds) await claimSocketPath(uds);
    try {
      if (o.metrics) {
        this.metrics = new MetricsExporter(o, () => this.workers.map((w) => ({ index: w.index, pid: w.pid })));
        log.info(`Metrics at: http://${o.metricsAddress}:${this.metrics.start()}/metrics`);
      }
      this.workers = Array.from({ length: o.workers }, (_, i) => new PythonWorker(o, i + 1));
      await Promise.all(this.workers.map((w) => w.start()));
      for (const w of this.workers) this.watch(w);
      // The first listener binds (port 0 picks a free port); the others join it by SO_REUSEPORT.
      this.port = o.port;
      for (const w of this.workers) {
        for (let t = 0; t < o.runtimeThreads; t++) {
          const port = await this.startListener(w, t);
          if (this.port === 0) this.port = port;
          // A Unix socket has one listener: SO_REUSEPORT does not apply to AF_UNIX.
          if (uds) break;
        }
        if (uds) break;
      }
      if (uds) {
        socketBound(uds);
        if (o.workers * o.runtimeThreads > 1)
          log.warn(`--uds: one listener thread serves the socket, so requests reach worker 1 only`);
      }
    } catch (err) {
      await this.shutdown(1000);
      throw err;
    }
    const scheme = this.listen.tls ? "https" : "http";
    const where = uds ? `${scheme}+unix://${uds.path}` : `${scheme}://${o.address.includes(":") ? `[${o.address}]` : o.address}:${this.port}`;
    log.info(
      `Listening at: ${where} ` +
        `(${o.interface}, ${o.workers} worker(s), ${o.runtimeThreads} thread(s) each)`,
    );
  }

  private async startListener(w: PythonWorker, t: number): Promise<number> {
    const o = this.opts;
    const thread = new Worker(new URL("./_listener.ts", import.meta.url));
    const l: Listener = { thread, worker: w.index, events: [] };
    thread.onmessage = (ev: MessageEvent<ListenerEvent>) => {
      if (ev.data.type === "metrics") return this.metrics?.update(ev.data.snapshot);
      const pending = l.events.splice(0);
      for (const fn of pending) fn(ev.data);
    };
    this.listeners.push(l);
    const listening = nextEvent(l, "listening");
    const cmd: ListenerCommand = {
      type: "start",
      config: {
        options: o,
        socketPath: w.socketPath,
        hostname: o.address,
        port: this.port,
        unix: this.listen.uds?.path ?? null,
        tls: this.listen.tls,
        http: this.listen.http,
        backpressure: o.backpressure,
        accessLog: o.accessLog,
        logLevel: o.logLevel,
        index: `${w.index}.${t + 1}`,
        ws: o.ws,
        wsPingInterval: o.wsPingInterval,
        wsCompression: o.wsCompression,
        wsMaxMessageSize: o.wsMaxMessageSize,
      },
    };
    thread.postMessage(cmd);
    const e = (await listening) as Extract<ListenerEvent, { type: "listening" }>;
    return e.port;
  }

  /** A worker that exits while we are not stopping is logged and respawned. */
  private watch(w: PythonWorker) {
    w.exited.then(async (code) => {
      if (w.stopping || this.stopping) return;
      log.error(`worker ${w.index} (pid ${w.pid}) died with exit code ${code}; its in-flight requests got 502; respawning`);
      this.metrics?.countRestart("crash");
      const fresh = new PythonWorker(this.opts, w.index);
      this.workers[this.workers.indexOf(w)] = fresh;
      try {
        await fresh.start();
      } catch (err) {
        log.error(`worker ${w.index} could not be respawned: ${(err as Error).message}`);
        return this.stop();
      }
      this.watch(fresh);
      for (const l of this.listeners)
        if (l.worker === w.index) l.thread.postMessage({ type: "reconnect", socketPath: fresh.socketPath } satisfies ListenerCommand);
      log.info(`worker ${w.index} respawned (pid ${fresh.pid})`);
    });
  }

  /** Graceful: listeners stop accepting and drain (bounded), then lifespan shutdown, then exit. */
  async stop(): Promise<void> {
    if (this.stopping) return this.closed;
    await this.shutdown(this.opts.shutdownTimeout * 1000);
  }

  /** Restart every Python worker (hot reload); the listeners keep their sockets. */
  async reload(): Promise<void> {
    if (this.stopping) return;
    this.metrics?.countRestart("reload");
    for (const w of [...this.workers]) {
      w.stopping = true;
      await w.stop(5000);
      const fresh = new PythonWorker(this.opts, w.index);
      this.workers[this.workers.indexOf(w)] = fresh;
      try {
        await fresh.start();
      } catch (err) {
        log.error(`reload: worker ${w.index} failed to start: ${(err as Error).message}; waiting for the next change`);
        continue;
      }
      this.watch(fresh);
      for (const l of this.listeners)
        if (l.worker === w.index) l.thread.postMessage({ type: "reconnect", socketPath: fresh.socketPath } satisfies ListenerCommand);
    }
    log.info("reloaded");
  }

  private async shutdown(timeoutMs: number) {
    this.stopping = true;
    this.metrics?.stop();
    await Promise.all(
      this.listeners.map(async (l) => {
        const stopped = nextEvent(l, "stopped").catch(() => {});
        l.thread.postMessage({ type: "stop", timeoutMs } satisfies ListenerCommand);
        await Promise.race([stopped, Bun.sleep(timeoutMs + 2000)]);
        l.thread.terminate();
      }),
    );
    await Promise.all(this.workers.map((w) => w.stop()));
    if (this.listen.uds) releaseSocketPath(this.listen.uds);
    this.closedResolve();
  }
}
