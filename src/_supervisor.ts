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
 *
 * --reload is the exception: there a change replaces every worker at once (`reloadCode`), and
 * a worker whose new code does not start is not kept on its old code — it stays down until
 * the next change, and with no worker up every request gets 503 at once.
 */
import { consola } from "./logs/_consola.ts";
import { PythonWorker } from "./_python.ts";
import { RoutingTable, SlotState } from "./_routing.ts";
import type { ResolvedOptions } from "./options.ts";
import { ListenerThreads } from "./supervisor/_listeners.ts";
import { Recycler } from "./supervisor/_recycle.ts";
import { CrashLoop } from "./supervisor/_respawn.ts";
import { FdGuard, raiseFdLimit } from "./supervisor/_fdguard.ts";
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
  /** Stops accepting while the process is out of file descriptors (src/supervisor/_fdguard.ts). */
  private fdGuard: FdGuard | null = null;
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

  /**
   * --reload --reload-ignore-worker-failure (Granian's meaning: a worker that fails does not
   * stop the server): a worker that dies or does not start waits for the next change.
   */
  private get waitsForChange() {
    return this.opts.reload && this.opts.reloadIgnoreWorkerFailure;
  }

  async start(): Promise<void> {
    const o = this.opts;
    const uds = this.listen.uds;
    // Before any thread or worker starts: they all share (and the workers inherit) the limit.
    const fdLimit = raiseFdLimit();
    // Before any worker starts: a live server on the socket is an error, not a takeover.
    if (uds) await claimSocketPath(uds);
    try {
      if (o.metrics) {
        const m = (this.metrics = new MetricsExporter(o, () => [...this.running.values()].map((r) => ({ index: r.index, pid: r.proc.pid }))));
        this.listeners.onMetrics = (s) => m.update(s);
        log.info(`Metrics at: http://${o.metricsAddress}:${m.start()}/metrics`);
      }
      const ups = Array.from({ length: o.workers }, (_, i) => this.bringUp(i + 1, i));
      if (!this.waitsForChange) await Promise.all(ups);
      else for (const [i, up] of ups.entries()) await up.catch((err) => (this.stopping ? undefined : this.startFailed(i + 1, err)));
      // A Unix socket has one listener: SO_REUSEPORT does not apply to AF_UNIX. It still
      // routes to every worker.
      this.port = await this.listeners.start(uds ? 1 : o.workers * o.runtimeThreads);
      if (uds) socketBound(uds);
      if (this.stopping) throw new Error("stopped during start-up");
      for (const r of this.running.values()) this.table.setState(r.slot, SlotState.UP);
      this.table.setUnavailable(this.running.size === 0);
      this.serving = true;
      this.recycler.start();
      this.fdGuard = FdGuard.create(fdLimit);
      this.fdGuard?.start();
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
    if (this.serving) {
      this.table.setState(slot, SlotState.UP);
      this.table.setUnavailable(false); // a worker is up: requests may wait for one again
    }
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
        this.lost(r.index, `worker ${r.index} (pid ${r.proc.pid}) died (${why})`, "stopping, as --respawn-failed-workers is off");
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
        this.lost(last.index, `worker ${last.index} is crash-looping (died 3 times within 5 s of starting); last: ${why || last.proc.exitDescription()}${last.proc.lastError() ? `: ${last.proc.lastError()}` : ""}`, "stopping");
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
        if (!proc) return this.lost(dead.index, `worker ${dead.index} could not be respawned: ${why}`, "stopping");
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
      await this.retire(old);
      log.info(`worker ${index} replaced (pid ${old.proc.pid} → ${fresh.proc.pid})`);
      return true;
    });
  }

  /** Take no new requests to `old`, let it finish (bounded by the kill timeout), stop it. */
  private async retire(old: Running) {
    old.proc.stopping = true;
    this.table.setState(old.slot, SlotState.DRAINING);
    await this.listeners.detach(old.slot, this.killTimeoutMs);
    await old.proc.stop(this.killTimeoutMs);
    this.table.setState(old.slot, SlotState.DOWN);
  }

  /**
   * --reload: the code changed. Every worker id gets a fresh worker at once (a developer is
   * waiting), then the old ones drain and stop. An id whose new worker does not start (a
   * syntax error, an import error) loses its old one too — serving the old code would hide
   * the mistake — and stays down until the next change; with none up, requests get 503.
   */
  async reloadCode(): Promise<boolean> {
    if (!this.serving || this.stopping) return false;
    const ids = Array.from({ length: this.opts.workers }, (_, i) => i + 1);
    const ok = await Promise.all(
      ids.map((index) =>
        this.serial(index, async () => {
          const old = this.running.get(index);
          this.metrics?.countRestart("reload");
          try {
            await this.bringUp(index, old ? this.pair(old.slot) : index - 1);
          } catch (err) {
            if (this.stopping) return false;
            if (this.running.get(index) === old) this.running.delete(index);
            this.recycler.forget(index);
            await this.startFailed(index, err);
            if (old) await this.retire(old);
            return false;
          }
          if (old) await this.retire(old);
          return true;
        }),
      ),
    );
    if (ok.every(Boolean)) log.info("workers reloaded");
    return ok.every(Boolean);
  }

  /** A worker of the app's current code could not start: say where, and wait for a change. */
  private async startFailed(index: number, err: unknown) {
    const proc = (err as { worker?: PythonWorker }).worker;
    const where = (await proc?.errorLocation()) ?? "";
    const waiting = this.running.size === 0 ? "; answering 503 until the next change" : "; it starts again on the next change";
    if (this.running.size === 0) this.table.setUnavailable(true);
    log.error(`worker ${index} did not start: ${(err as Error).message}${where ? ` (at ${where})` : ""}${waiting}`);
  }

  /**
   * Worker `index` is gone and no respawn brings it back: the server stops (`stopping` says
   * how), or under --reload --reload-ignore-worker-failure it waits for the next change.
   */
  private lost(index: number, message: string, stopping: string) {
    if (!this.waitsForChange) return this.fail(`${message}; ${stopping}`);
    this.running.delete(index);
    this.recycler.forget(index);
    if (this.running.size === 0) this.table.setUnavailable(true);
    log.error(`${message}; it starts again on the next change (--reload-ignore-worker-failure)${this.running.size === 0 ? "; answering 503 meanwhile" : ""}`);
  }

  /** Rolling restart (SIGHUP, `server.reload()`): every worker replaced, one at a time. */
  async reload(): Promise<boolean> {
    if (!this.serving || this.stopping) return false;
    // A worker missing by design (--reload, waiting for a fix) has nothing to roll: start all.
    if (this.running.size < this.opts.workers) return this.reloadCode();
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
    this.fdGuard?.stop();
    this.stopping = true;
    this.recycler.stop();
    await this.listeners.stop(timeoutMs);
    await Promise.all([...this.running.values()].map((r) => r.proc.stop(this.killTimeoutMs)));
    if (this.listen.uds) releaseSocketPath(this.listen.uds);
    this.closedResolve();
  }
}
