/**
 * The listeners (src/_listener.ts), seen from the supervisor: start them, tell all of them
 * when a worker comes (attach) or goes (detach), and replace a thread that dies.
 *
 * The first listener runs on the main thread, the others each on a Worker thread. The main
 * thread is idle once the workers are up, and a Worker is a JS VM of its own that loads the
 * listener's modules again: about 5 MiB of RSS that one listener (the default: one worker,
 * one runtime thread) does not need. Both speak the same messages; only a Worker can end
 * apart from the process, so only they are replaced when they die.
 */
import type { Snapshot } from "../metrics/index.ts";
import { consola } from "../logs/_consola.ts";
import type { ResolvedOptions } from "../options.ts";
import type { RoutingTable } from "../_routing.ts";
import type { ListenConfig, ListenerCommand, ListenerConfig, ListenerEvent, WorkerAddress } from "../types.ts";
import { createListener } from "../_listener.ts";
import { within } from "../_within.ts";

const log = consola.withTag("granian-ts");

class ListenerError extends Error {
  override name = "ListenerError";
}

/** What the supervisor holds of a listener: a Worker, or one on this thread that acts as one. */
interface ListenerPort {
  postMessage(cmd: ListenerCommand): void;
  terminate(): void;
}

/**
 * A listener on the main thread behind the Worker's interface. Messages go both ways on a
 * microtask, as they would arrive from a thread: nothing runs inside the sender's call.
 */
function inlineListener(onEvent: (e: ListenerEvent) => void): ListenerPort {
  let ended = false;
  const handle = createListener({
    post: (e) => queueMicrotask(() => ended || onEvent(e)),
    exit: () => {},
  });
  return {
    postMessage: (cmd) => queueMicrotask(() => handle(cmd)),
    // The listener stops itself on "stop"; this only silences what it still reports.
    terminate: () => {
      ended = true;
    },
  };
}

interface Thread {
  worker: ListenerPort;
  name: string;
  /** Waiters for this thread's events; each returns true once it consumed its event. */
  waiters: Set<(e: ListenerEvent) => boolean>;
  stopping: boolean;
}

export class ListenerThreads {
  private threads: Thread[] = [];
  private stopping = false;
  port = 0;

  constructor(
    private readonly opts: ResolvedOptions,
    private readonly listen: ListenConfig,
    private readonly table: RoutingTable,
    /** The workers a thread must attach to when it (re)starts. */
    private readonly current: () => WorkerAddress[],
  ) {}

  /** --metrics: the snapshots the threads post (src/metrics/). */
  onMetrics?: (s: Snapshot) => void;

  private config(name: string): ListenerConfig {
    const o = this.opts;
    return {
      options: o,
      hostname: o.address,
      port: this.port,
      unix: this.listen.uds?.path ?? null,
      tls: this.listen.tls,
      http: this.listen.http,
      backpressure: o.backpressure,
      backpressureQueue: o.backpressureQueue,
      backpressureTimeoutMs: Math.round(o.backpressureTimeout * 1000),
      bodyReadTimeoutMs: o.bodyReadTimeout,
      accessLog: o.accessLog,
      logLevel: o.logLevel,
      index: name,
      ws: o.ws,
      wsPingInterval: o.wsPingInterval,
      wsCompression: o.wsCompression,
      wsMaxMessageSize: o.wsMaxMessageSize,
    };
  }

  /** Start `count` threads; the first binds (port 0 picks a free port), the rest join it by SO_REUSEPORT. */
  async start(count: number): Promise<number> {
    this.port = this.opts.port;
    for (let i = 0; i < count; i++) await this.spawn(`${i + 1}`, i);
    return this.port;
  }

  private async spawn(name: string, at: number): Promise<void> {
    const onEvent = (e: ListenerEvent) => {
      if (e.type === "metrics") return this.onMetrics?.(e.snapshot);
      for (const w of t.waiters) if (w(e)) t.waiters.delete(w);
    };
    let worker: ListenerPort;
    if (at === 0) worker = inlineListener(onEvent);
    else {
      // smol: a heap that grows less between collections. Measured (2 workers, wrk -c64): the
      // tree under load 130-131 -> 126-127 MiB for ~0.4 µs more CPU per request (~1.6%).
      const w = new Worker(new URL("../_listener.ts", import.meta.url), { smol: true });
      w.onmessage = (ev: MessageEvent<ListenerEvent>) => onEvent(ev.data);
      w.addEventListener("close", () => this.died(t));
      worker = w;
    }
    const t: Thread = { worker, name, waiters: new Set(), stopping: false };
    this.threads[at] = t;
    const listening = this.next(t, (e) => e.type === "listening");
    this.send(t, { type: "start", config: this.config(name), table: this.table.buffer, slots: this.table.slots, attach: this.current() });
    const e = (await listening) as Extract<ListenerEvent, { type: "listening" }>;
    if (this.port === 0) this.port = e.port;
  }

  /** A thread that ends while we are not stopping is replaced (its connections are lost). */
  private died(t: Thread) {
    for (const w of t.waiters) w({ type: "error", message: `listener thread ${t.name} exited` });
    t.waiters.clear();
    if (t.stopping || this.stopping) return;
    const at = this.threads.indexOf(t);
    if (at < 0) return;
    log.error(`listener thread ${t.name} exited unexpectedly; starting a new one`);
    this.spawn(t.name, at).then(
      () => log.info(`listener thread ${t.name} replaced`),
      (err) => log.error(`listener thread ${t.name} could not be replaced: ${(err as Error).message}`),
    );
  }

  private send(t: Thread, cmd: ListenerCommand) {
    t.worker.postMessage(cmd);
  }

  /** The next event of `t` matching `match`; a thread error rejects. */
  private next(t: Thread, match: (e: ListenerEvent) => boolean): Promise<ListenerEvent> {
    return new Promise((resolve, reject) => {
      t.waiters.add((e) => {
        if (match(e)) resolve(e);
        else if (e.type === "error") reject(new ListenerError(e.message));
        else return false;
        return true;
      });
    });
  }

  /** Every thread connects to the worker at `a`; rejects if one could not. */
  async attach(a: WorkerAddress): Promise<void> {
    await Promise.all(
      this.threads.map(async (t) => {
        const done = this.next(t, (e) => e.type === "attached" && e.slot === a.slot);
        this.send(t, { type: "attach", ...a });
        const e = (await done) as Extract<ListenerEvent, { type: "attached" }>;
        if (e.error) throw new ListenerError(`listener thread ${t.name} could not connect to the worker: ${e.error}`);
      }),
    );
  }

  /** Every thread lets the slot's requests finish (bounded by `timeoutMs`), then disconnects. */
  async detach(slot: number, timeoutMs: number): Promise<void> {
    await Promise.all(
      this.threads.map(async (t) => {
        const done = this.next(t, (e) => e.type === "detached" && e.slot === slot).catch(() => {});
        this.send(t, { type: "detach", slot, timeoutMs });
        await within(done, timeoutMs + 2000);
      }),
    );
  }

  /** Stop accepting, drain (bounded), end the threads. */
  async stop(timeoutMs: number): Promise<void> {
    this.stopping = true;
    await Promise.all(
      this.threads.map(async (t) => {
        t.stopping = true;
        const stopped = this.next(t, (e) => e.type === "stopped").catch(() => {});
        this.send(t, { type: "stop", timeoutMs });
        await within(stopped, timeoutMs + 2000);
        t.worker.terminate();
      }),
    );
  }

  /** For tests of the replacement: end one thread (not the first, on the main thread) as a crash would. */
  terminate(at: number) {
    this.threads[at]?.worker.terminate();
  }
}
