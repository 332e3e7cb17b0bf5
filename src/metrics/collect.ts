/**
 * Per listener thread: counters bumped by the response observer (plain numbers in one object,
 * no locks: each thread has its own) and snapshotted to the main thread once per
 * --metrics-scrape-interval. Nothing here runs unless --metrics is on.
 */

/** Upper bounds of the request-duration histogram, in seconds (Prometheus' default buckets). */
export const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

export interface Snapshot {
  listener: string;
  interface: string;
  /** Responses by status class: index 1..5 for 1xx..5xx, 0 for anything else. */
  byClass: number[];
  /** Cumulative-later: raw counts per bucket, the last one for +Inf. */
  buckets: number[];
  durationSum: number;
  bytesIn: number;
  bytesOut: number;
  /** Responses of the static-file handler. */
  statics: number;
  inFlight: number;
  queued: number;
  websockets: number;
  heapBytes: number;
}

export interface Gauges {
  inFlight(): number;
  queued(): number;
  websockets(): number;
}

export class ListenerMetrics {
  private readonly byClass = [0, 0, 0, 0, 0, 0];
  private readonly buckets = new Array<number>(BUCKETS.length + 1).fill(0);
  private durationSum = 0;
  private bytesIn = 0;
  private bytesOut = 0;
  private statics = 0;

  constructor(
    private readonly listener: string,
    private readonly iface: string,
  ) {}

  observe = (req: Request, _client: string, status: number, started: number, size: number) => {
    const c = (status / 100) | 0;
    this.byClass[c >= 1 && c <= 5 ? c : 0]!++;
    const dt = (performance.now() - started) / 1000;
    this.durationSum += dt;
    let i = 0;
    while (i < BUCKETS.length && dt > BUCKETS[i]!) i++;
    this.buckets[i]!++;
    if (size > 0) this.bytesOut += size;
    const len = req.headers.get("content-length");
    if (len !== null) this.bytesIn += Number(len) || 0;
  };

  /** A response of the static-file handler (also counted with the others). */
  observeStatic = (req: Request, client: string, status: number, started: number, size: number) => {
    this.statics++;
    this.observe(req, client, status, started, size);
  };

  snapshot(g: Gauges): Snapshot {
    return {
      listener: this.listener,
      interface: this.iface,
      byClass: [...this.byClass],
      buckets: [...this.buckets],
      durationSum: this.durationSum,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      statics: this.statics,
      inFlight: g.inFlight(),
      queued: g.queued(),
      websockets: g.websockets(),
      heapBytes: process.memoryUsage().heapUsed,
    };
  }
}
