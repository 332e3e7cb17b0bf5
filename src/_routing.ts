/**
 * Request routing: every listener thread holds a `WorkerBridge` to every Python worker, and
 * each request goes to the least-busy worker that is up (fewest requests in flight, counted
 * over all listener threads). A worker that is dead, starting, draining (recycling, rolling
 * restart) or blocked gets no new requests; when no worker can take one, the request waits
 * in a bounded queue and is answered 503 (with `Retry-After`) when the queue is full or it
 * waited too long.
 *
 * The counters and states live in a `SharedArrayBuffer` (`RoutingTable`) that the supervisor
 * creates and every listener thread maps: the supervisor flips a worker's state without a
 * message round trip, and the threads see each other's in-flight counts.
 */
import type { Server } from "bun";
import type { WorkerBridge } from "./_bridge.ts";
import { parseContentLength } from "./_content_length.ts";
import { SMALL_BODY } from "./_request_body.ts";
import { REQUEST_TIMEOUT } from "./_response.ts";
import { unwatch, watch } from "./_stall.ts";

/** Int32 cells per worker slot. */
const STRIDE = 4;
const IN_FLIGHT = 0;
const STATE = 1;
/** Requests dispatched to the slot's worker since it was attached (for --workers-max-requests). */
const REQUESTS = 2;

export const enum SlotState {
  /** No worker, or one that is not ready (starting, dead): nothing is routed to it. */
  DOWN = 0,
  UP = 1,
  /** Finishing what it has (recycling, rolling restart, shutdown); takes nothing new. */
  DRAINING = 2,
  /** Up, but its event loop has not answered a ping in time: used only when no worker is UP. */
  BLOCKED = 3,
}

/**
 * Two slots per worker index: a replacement starts in the other slot of its pair while the
 * old worker drains, so a rolling restart keeps N to N+1 workers.
 */
export class RoutingTable {
  readonly cells: Int32Array;
  constructor(
    readonly slots: number,
    buffer?: SharedArrayBuffer,
  ) {
    // After the slots: the requests queued over all threads, and the "unavailable" flag.
    this.cells = new Int32Array(buffer ?? new SharedArrayBuffer(4 * (STRIDE * slots + 2)));
  }

  get buffer(): SharedArrayBuffer {
    return this.cells.buffer as SharedArrayBuffer;
  }

  state(slot: number): SlotState {
    return Atomics.load(this.cells, slot * STRIDE + STATE);
  }

  setState(slot: number, state: SlotState) {
    Atomics.store(this.cells, slot * STRIDE + STATE, state);
  }

  /**
   * Set while no worker is coming (--reload after a failed start): requests that find no
   * worker up get 503 at once instead of waiting.
   */
  setUnavailable(on: boolean) {
    Atomics.store(this.cells, STRIDE * this.slots + 1, on ? 1 : 0);
  }

  inFlight(slot: number): number {
    return Atomics.load(this.cells, slot * STRIDE + IN_FLIGHT);
  }

  requests(slot: number): number {
    return Atomics.load(this.cells, slot * STRIDE + REQUESTS);
  }

  /**
   * A fresh worker takes the slot: its request count starts at zero. The in-flight count is
   * left alone: the previous worker's bridges still release what they had (as 502s).
   */
  reset(slot: number) {
    Atomics.store(this.cells, slot * STRIDE + REQUESTS, 0);
    Atomics.store(this.cells, slot * STRIDE + STATE, SlotState.DOWN);
  }
}

export interface PoolOptions {
  /** Requests a worker runs at once, over all threads (--backpressure). */
  backpressure: number;
  /** Requests that may wait for a worker, over all threads (--backpressure-queue). */
  queueSize: number;
  /** Milliseconds a request may wait before it is answered 503 (--backpressure-timeout). */
  queueTimeoutMs: number;
  /** Milliseconds a request body may stall before the request gets 408 (--body-read-timeout). */
  bodyReadTimeoutMs: number;
}

/** Answers a request Bun waits on (the resolve of the promise its fetch handler returned). */
type Resolve = (r: Response | Promise<Response>) => void;

interface Waiting {
  req: Request;
  server: Server<unknown>;
  body: Uint8Array | undefined;
  resolve: Resolve;
  since: number;
}

const UNAVAILABLE = (retryAfter: number) =>
  new Response("Service Unavailable", {
    status: 503,
    headers: { "content-type": "text/plain; charset=utf-8", "retry-after": String(retryAfter), connection: "close" },
  });

/** How often a non-empty queue looks for a free worker slot freed by another thread. */
const QUEUE_POLL_MS = 2;

/** `place`'s answer for a request counted into the queue (slots are >= 0). */
const WAIT = -1;

/** The routing of one listener thread: its bridges, one per worker slot, and its queue. */
export class WorkerPool {
  private readonly bridges: (WorkerBridge | null)[];
  private readonly cells: Int32Array;
  private readonly queue: Waiting[] = [];
  private head = 0;
  /** Where the next pick starts looking. */
  private start = 0;
  private poll: ReturnType<typeof setInterval> | null = null;
  private readonly queuedCell: number;

  constructor(
    table: RoutingTable,
    private readonly opts: PoolOptions,
  ) {
    this.bridges = new Array(table.slots).fill(null);
    this.cells = table.cells;
    this.queuedCell = table.slots * STRIDE;
  }

  bridge(slot: number): WorkerBridge | null {
    return this.bridges[slot] ?? null;
  }

  /** A bridge to the worker in `slot` is connected; queued requests may now go there. */
  attach(slot: number, bridge: WorkerBridge) {
    this.bridges[slot] = bridge;
    this.kick();
  }

  detach(slot: number, bridge: WorkerBridge) {
    if (this.bridges[slot] === bridge) this.bridges[slot] = null;
  }

  get bridgesInUse(): WorkerBridge[] {
    return this.bridges.filter((b): b is WorkerBridge => b !== null);
  }

  /** The bridge of `slot` finished a request (its `onRelease`). */
  released(slot: number) {
    Atomics.sub(this.cells, slot * STRIDE + IN_FLIGHT, 1);
    if (this.queue.length > this.head) this.kick();
  }

  /**
   * The least-busy slot that is up and under its backpressure, or -1. Blocked workers count
   * only when nothing else is up: a stuck loop is better than no answer at all.
   */
  private pick(): number {
    const cells = this.cells;
    const bridges = this.bridges;
    const n = bridges.length;
    const limit = this.opts.backpressure;
    let best = -1;
    let bestLoad = limit;
    let fallback = -1;
    let fallbackLoad = limit;
    // Ties go round: idle workers share light traffic instead of the first one taking it all.
    let slot = this.start;
    this.start = slot + 1 === n ? 0 : slot + 1;
    for (let k = 0; k < n; k++, slot = slot + 1 === n ? 0 : slot + 1) {
      const b = bridges[slot];
      if (b === null || !b!.connected) continue;
      const base = slot * STRIDE;
      const state = Atomics.load(cells, base + STATE);
      const load = Atomics.load(cells, base + IN_FLIGHT);
      if (state === SlotState.UP) {
        if (load < bestLoad) {
          best = slot;
          bestLoad = load;
        }
      } else if (state === SlotState.BLOCKED && load < fallbackLoad) {
        fallback = slot;
        fallbackLoad = load;
      }
    }
    return best >= 0 ? best : fallback;
  }

  private dispatch(slot: number, req: Request, server: Server<unknown>): Promise<Response> | Response {
    this.count(slot);
    return this.bridges[slot]!.handle(req, server);
  }

  /** `dispatch` for a request whose answer goes to a promise Bun already waits on. */
  private dispatchWith(slot: number, resolve: Resolve, req: Request, server: Server<unknown>, body?: Uint8Array) {
    this.count(slot);
    this.bridges[slot]!.handleWith(resolve, req, server, body);
  }

  private count(slot: number) {
    const base = slot * STRIDE;
    Atomics.add(this.cells, base + IN_FLIGHT, 1);
    Atomics.add(this.cells, base + REQUESTS, 1);
  }

  handle(req: Request, server: Server<unknown>): Promise<Response> | Response {
    if (req.body !== null) {
      // A small body is read before the request takes a worker slot: clients that send their
      // headers and then stall (slowloris on the body) hold a connection, not a slot.
      const length = parseContentLength(req.headers.get("content-length") ?? undefined);
      if (length > 0 && length <= SMALL_BODY && !req.headers.has("transfer-encoding")) return this.prefetch(req, server);
    }
    return this.route(req, server);
  }

  private prefetch(req: Request, server: Server<unknown>): Promise<Response> {
    // Callbacks, not `await orStall(...)`: one promise per request fewer on every small POST.
    return new Promise<Response>((resolve, reject) => {
      const deadline = watch(this.opts.bodyReadTimeoutMs, () => resolve(REQUEST_TIMEOUT()));
      req.bytes().then(
        (body) => {
          if (!unwatch(deadline)) return;
          try {
            this.routeWith(resolve, req, server, body);
          } catch (err) {
            reject(err); // as the request would have failed unread: Bun answers 500
          }
        },
        () => {
          // The client is gone.
          if (unwatch(deadline)) resolve(new Response(null, { status: 400, headers: { connection: "close" } }));
        },
      );
    });
  }

  /**
   * Where a new request goes: a free worker slot (>= 0), `WAIT` (counted into the queue), or the
   * 503 it gets. Requests already waiting go first, so a burst keeps its order.
   */
  private place(): number | Response {
    if (this.queue.length === this.head) {
      const slot = this.pick();
      if (slot >= 0) return slot;
      if (Atomics.load(this.cells, this.queuedCell + 1)) return UNAVAILABLE(1);
    }
    return this.admit() ? WAIT : UNAVAILABLE(this.retryAfter());
  }

  private route(req: Request, server: Server<unknown>): Promise<Response> | Response {
    const to = this.place();
    if (typeof to !== "number") return to;
    if (to >= 0) return this.dispatch(to, req, server);
    return new Promise((resolve) => this.wait(resolve, req, server));
  }

  /** `route` for a request whose body was read: answered through the promise Bun waits on. */
  private routeWith(resolve: Resolve, req: Request, server: Server<unknown>, body: Uint8Array) {
    const to = this.place();
    if (typeof to !== "number") resolve(to);
    else if (to >= 0) this.dispatchWith(to, resolve, req, server, body);
    else this.wait(resolve, req, server, body);
  }

  /** Count a request into the queue; false (and not counted) when the queue is full. */
  private admit(): boolean {
    if (Atomics.add(this.cells, this.queuedCell, 1) < this.opts.queueSize) return true;
    Atomics.sub(this.cells, this.queuedCell, 1);
    return false;
  }

  private wait(resolve: Resolve, req: Request, server: Server<unknown>, body?: Uint8Array) {
    this.queue.push({ req, server, body, resolve, since: performance.now() });
    this.poll ??= setInterval(this.kick, QUEUE_POLL_MS);
  }

  /** Seconds a client should wait before it tries again: about the queue timeout. */
  private retryAfter() {
    return Math.max(1, Math.ceil(this.opts.queueTimeoutMs / 1000));
  }

  /** Hand waiting requests to free worker slots; answer 503 to those that waited too long. */
  private kick = () => {
    const q = this.queue;
    const now = performance.now();
    while (this.head < q.length) {
      const w = q[this.head]!;
      if (now - w.since > this.opts.queueTimeoutMs) {
        this.shift();
        w.resolve(UNAVAILABLE(this.retryAfter()));
        continue;
      }
      const slot = this.pick();
      if (slot < 0) {
        if (!Atomics.load(this.cells, this.queuedCell + 1)) break;
        this.shift();
        w.resolve(UNAVAILABLE(1)); // no worker is coming (see RoutingTable.setUnavailable)
        continue;
      }
      this.shift();
      this.dispatchWith(slot, w.resolve, w.req, w.server, w.body);
    }
    if (this.head === q.length) {
      q.length = 0;
      this.head = 0;
      if (this.poll) clearInterval(this.poll);
      this.poll = null;
    }
  };

  private shift() {
    this.queue[this.head++] = undefined as never;
    Atomics.sub(this.cells, this.queuedCell, 1);
  }

  get queued(): number {
    return this.queue.length - this.head;
  }

  /** Answer every waiting request 503 (the server is going away). */
  refuseQueued() {
    while (this.head < this.queue.length) {
      const w = this.queue[this.head]!;
      this.shift();
      w.resolve(UNAVAILABLE(this.retryAfter()));
    }
    this.kick();
  }
}
