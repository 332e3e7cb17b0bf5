/**
 * The supervisor, on Bun's main thread: it starts the Python workers, then the listener
 * threads that route requests to them (src/_routing.ts), and keeps the set of workers whole:
 * a worker that dies is respawned (src/supervisor/_respawn.ts), one that is due is replaced
 * without dropping a request (src/supervisor/_recycle.ts; SIGHUP and `reload()` do it to all,
 * one at a time), and shutdown drains. It never touches a request.
 *
 * Each worker id (1..N) has two routing slots: a replacement starts in the free one, takes
 * new requests once every listener thread is connected to it, and only then does the old
 * worker drain and stop — so there are N to N+1 workers and never fewer than N up.
 */
import { consola } from "consola";
import { PythonWorker } from "./_python.ts";
import { RoutingTable, SlotState } from "./_routing.ts";
import type { ResolvedOptions } from "./options.ts";
import { ListenerThreads } from "./supervisor/_listeners.ts";
import { Recycler } from "./supervisor/_recycle.ts";
import { CrashLoop } from "./supervisor/_respawn.ts";
import { MetricsExporter } from "./metrics/index.ts";
import { claimSocketPath, releaseSocketPath, socketBound } from "./_uds.ts";
import type { ListenConfig, WorkerAddress } from "./types.ts";

const log = consola.withTag("granian-ts");

interface Running {
  index: number;
  slot: number;
  proc: PythonWorker;
  spawnedAt: number;
}

export class WorkerSupervisor {
  private readonly table: RoutingTable;
  /** The current worker of each id. */
  private readonly running = new Map<number, Running>();
  /** Per worker id, the lifecycle operation in progress (respawn, replacement): one at a time. */
  private readonly busy = new Map<number, Promise<unknown>>();
  readonly listeners: ListenerThreads;
  private readonly recycler: Recycler;
  private readonly crashLoop = new CrashLoop();
  serving = false;
  /** Workers between spawn and ready: a stop during start-up kills them rather than wait. */
  private readonly starting = new Set<PythonWorker>();
  private stopping = false;
  /** --metrics: aggregates the listeners' snapshots and serves them. */
  private metrics: MetricsExporter | null = null;
  port = 0;
  /** Why the server stopped on its own (a worker it could not keep), if it did. */
  failure: string | null = null;
  private closedResolve!: () => void;
  readonly closed = new Promise<void>((r) => (this.closedResolve = r));

  constructor(
    private readonly opts: ResolvedOptions,
    private readonly listen: ListenConfig,
  ) {
    this.table = new RoutingTable(2 * opts.workers);
    this.listeners = new ListenerThreads(opts, listen, this.table, () => this.addresses());
    this.recycler = new Recycler(opts, this.table, (index, reason) => void this.replace(index, reason));
  }

  /** Seconds a draining worker gets before it is killed. */
  private get killTimeoutMs() {
    return (this.opts.workersKillTimeout ?? this.opts.shutdownTimeout) * 1000;
  }

  private addresses(): WorkerAddress[] {
    return [...this.running.values()].map((r) => ({ slot: r.slot, socketPath: r.proc.socketPath }));
  }

  /** The worker pids by id, for tests and the TS API. */
  get pids(): number[] {
    return [...this.running.values()].sort((a, b) => a.index - b.index).map((r) => r.proc.pid);
  }

  async start(): Promise<void> {
    const o = this.opts;
    const uds = this.listen.uds;
    // Before any worker starts: a live server on the socket is an error, not a takeover.
    if (uds) await claimSocketPath(uds);
    try {
      if (o.metrics) {
        const m = (this.metrics = new MetricsExporter(o, () => [...this.running.values()].map((r) => ({ index: r.index, pid: r.proc.pid }))));
        this.listeners.onMetrics = (s) => m.update(s);
        log.info(`Metrics at: http://${o.metricsAddress}:${m.start()}/metrics`);
      }
      await Promise.all(Array.from({ length: o.workers }, (_, i) => this.bringUp(i + 1, i)));
      // A Unix socket has one listener: SO_REUSEPORT does not apply to AF_UNIX. It still
      // routes to every worker.
      this.port = await this.listeners.start(uds ? 1 : o.workers * o.runtimeThreads);
      if (uds) socketBound(uds);
      if (this.stopping) throw new Error("stopped during start-up");
      for (const r of this.running.values()) this.table.setState(r.slot, SlotState.UP);
      this.serving = true;
      this.recycler.start();
    } catch (err) {
      await this.shutdown(1000);
      throw err;
    }
    const scheme = this.listen.tls ? "https" : "http";
    const where = uds ? `${scheme}+unix://${uds.path}` : `${scheme}://${o.address.includes(":") ? `[${o.address}]` : o.address}:${this.port}`;
    log.info(`Listening at: ${where} (${o.interface}, ${o.workers} worker(s), ${uds ? 1 : o.workers * o.runtimeThreads} listener thread(s))`);
  }

  /**
   * Start worker `index` in `slot`; once it is ready and (when serving) every listener thread
   * is connected to it, it is the current worker of its id and takes requests.
   */
  private async bringUp(index: number, slot: number): Promise<Running> {
    this.table.reset(slot);
    const proc = new PythonWorker(this.opts, index);
    const r: Running = { index, slot, proc, spawnedAt: performance.now() };
    this.starting.add(proc);
    try {
      await proc.start();
      if (this.serving) await this.listeners.attach({ slot, socketPath: proc.socketPath });
    } catch (err) {
      proc.kill();
      throw Object.assign(err as Error, { worker: proc });
    } finally {
      this.starting.delete(proc);
    }
    if (this.stopping) {
      proc.kill();
      throw new Error(`worker ${index} started while the server was stopping`);
    }
    this.running.set(index, r);
    this.watch(r);
    if (this.serving) this.table.setState(slot, SlotState.UP);
    this.recycler.track({ index, slot, pid: proc.pid });
    return r;
  }

  /** Run `op` for worker `index` after whatever is in progress for it. */
  private serial<T>(index: number, op: () => Promise<T>): Promise<T> {
    const prev = this.busy.get(index) ?? Promise.resolve();
    const next = prev.then(op, op);
    this.busy.set(index, next.catch(() => {}));
    return next;
  }

  /** A worker that exits while it is current and we are not stopping: respawn it, or stop. */
  private watch(r: Running) {
    r.proc.exited.then(() => {
      if (r.proc.stopping || this.stopping || this.running.get(r.index) !== r) return;
      this.table.setState(r.slot, SlotState.DOWN);
      this.recycler.forget(r.index);
      const why = `${r.proc.exitDescription()}${r.proc.lastError() ? `, last error: ${r.proc.lastError()}` : ""}`;
      if (!this.opts.respawnFailedWorkers) {
        this.fail(`worker ${r.index} (pid ${r.proc.pid}) died (${why}); stopping, as --respawn-failed-workers is off`);
        return;
      }
      log.error(`worker ${r.index} (pid ${r.proc.pid}) died (${why}); its in-flight requests failed; respawning`);
      this.metrics?.countRestart("crash");
      void this.serial(r.index, () => this.respawn(r));
    });
  }

  private async respawn(dead: Running): Promise<void> {
    let last = dead;
    let why = "";
    for (;;) {
      if (this.stopping) return;
      if (this.crashLoop.died(last.index, last.spawnedAt)) {
        this.fail(`worker ${last.index} is crash-looping (died 3 times within 5 s of starting); last: ${why || last.proc.exitDescription()}${last.proc.lastError() ? `: ${last.proc.lastError()}` : ""}`);
        return;
      }
      await Bun.sleep(this.crashLoop.backoffMs(last.index));
      const slot = this.pair(dead.slot);
      const spawnedAt = performance.now();
      try {
        const fresh = await this.bringUp(dead.index, slot);
        log.info(`worker ${fresh.index} respawned (pid ${fresh.proc.pid})`);
        return;
      } catch (err) {
        const proc = (err as { worker?: PythonWorker }).worker;
        why = (err as Error).message;
        log.error(`worker ${dead.index} could not be respawned: ${why}`);
        if (!proc) return this.fail(`worker ${dead.index} could not be respawned: ${why}`);
        last = { index: dead.index, slot, proc, spawnedAt };
        dead = last;
      }
    }
  }

  private pair(slot: number) {
    const n = this.opts.workers;
    return slot < n ? slot + n : slot - n;
  }

  /**
   * Replace worker `index` without dropping a request: start the new one in the free slot,
   * route new requests to it, let the old one finish (bounded by the kill timeout), stop it.
   * Resolves false when the replacement could not start (the old worker keeps serving).
   */
  replace(index: number, reason: string): Promise<boolean> {
    return this.serial(index, async () => {
      const old = this.running.get(index);
      if (!old || this.stopping) return false;
      log.info(`worker ${index} (pid ${old.proc.pid}) ${reason}: replacing it`);
      this.metrics?.countRestart(reason);
      let fresh: Running;
      try {
        fresh = await this.bringUp(index, this.pair(old.slot));
      } catch (err) {
        log.error(`worker ${index}: its replacement could not start (${(err as Error).message}); the old one keeps serving`);
        if (this.running.get(index) === old) this.recycler.track({ index, slot: old.slot, pid: old.proc.pid });
        return false;
      }
      old.proc.stopping = true;
      this.table.setState(old.slot, SlotState.DRAINING);
      await this.listeners.detach(old.slot, this.killTimeoutMs);
      await old.proc.stop(this.killTimeoutMs);
      this.table.setState(old.slot, SlotState.DOWN);
      log.info(`worker ${index} replaced (pid ${old.proc.pid} → ${fresh.proc.pid})`);
      return true;
    });
  }

  /** Rolling restart (SIGHUP, `server.reload()`): every worker replaced, one at a time. */
  async reload(): Promise<boolean> {
    if (!this.serving || this.stopping) return false;
    log.info("rolling restart of the workers");
    let ok = true;
    const ids = [...this.running.keys()].sort((a, b) => a - b);
    for (const [i, index] of ids.entries()) {
      if (i > 0 && this.opts.respawnInterval > 0) await Bun.sleep(this.opts.respawnInterval * 1000);
      ok = (await this.replace(index, "rolling restart")) && ok;
      if (this.stopping) return false;
    }
    log.info(ok ? "rolling restart done" : "rolling restart done; some workers kept their old process");
    return ok;
  }

  /** Stop the server on our own: the CLI exits 1 with this line. */
  private fail(message: string) {
    if (this.stopping) return;
    this.failure = message;
    log.error(message);
    void this.stop();
  }

  /** Graceful: listeners stop accepting and drain (bounded), then lifespan shutdown, then exit. */
  async stop(): Promise<void> {
    if (!this.serving && !this.stopping) {
      // Stopped during start-up: nothing serves yet, so nothing is worth waiting for.
      log.warn("stopped during start-up");
      this.stopping = true;
      for (const proc of this.starting) proc.kill();
      return this.closed;
    }
    if (this.stopping) return this.closed;
    await this.shutdown(this.opts.shutdownTimeout * 1000);
  }

  private async shutdown(timeoutMs: number) {
    this.metrics?.stop();
    this.stopping = true;
    this.recycler.stop();
    await this.listeners.stop(timeoutMs);
    await Promise.all([...this.running.values()].map((r) => r.proc.stop(this.killTimeoutMs)));
    if (this.listen.uds) releaseSocketPath(this.listen.uds);
    this.closedResolve();
  }
}
