/**
 * Recycling: replace a worker once it is old (--workers-lifetime, plus a random
 * --workers-lifetime-jitter), has served enough requests (--workers-max-requests, plus a random
 * --workers-max-requests-jitter), or holds too much memory (--workers-max-rss, over
 * --rss-samples samples taken every --rss-sample-interval). The supervisor does the
 * replacing (start the new worker, route to it, drain the old one); this unit only decides when.
 */
import { readFileSync } from "node:fs";
import type { ResolvedOptions } from "../options.ts";
import type { RoutingTable } from "../_routing.ts";

export interface Recyclable {
  index: number;
  slot: number;
  pid: number;
}

interface Tracked {
  w: Recyclable;
  /** performance.now() past which the worker is replaced. */
  expires: number;
  maxRequests: number;
  overRss: number;
}

/** How often the request counters are looked at: cheap (shared memory reads). */
const CHECK_MS = 100;

const random = (upTo: number) => Math.floor(Math.random() * (upTo + 1));

/** Resident memory of a process in MiB (Linux /proc), or 0 when it cannot be read. */
export function rssMiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

export class Recycler {
  private readonly tracked = new Map<number, Tracked>();
  private timers: ReturnType<typeof setInterval>[] = [];

  constructor(
    private readonly opts: ResolvedOptions,
    private readonly table: RoutingTable,
    /** Replace the worker (the supervisor serialises it); called once per worker. */
    private readonly replace: (index: number, reason: string) => void,
  ) {}

  get enabled() {
    const o = this.opts;
    return o.workersLifetime !== undefined || o.workersMaxRequests !== undefined || o.workersMaxRss !== undefined;
  }

  start() {
    const o = this.opts;
    if (o.workersLifetime !== undefined || o.workersMaxRequests !== undefined)
      this.timers.push(setInterval(this.check, CHECK_MS));
    if (o.workersMaxRss !== undefined) this.timers.push(setInterval(this.sample, o.rssSampleInterval * 1000));
  }

  stop() {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.tracked.clear();
  }

  /** A worker started serving: its lifetime and request budget start now. */
  track(w: Recyclable) {
    const o = this.opts;
    const lifetime = o.workersLifetime === undefined ? Infinity : (o.workersLifetime + random(o.workersLifetimeJitter ?? 0)) * 1000;
    const maxRequests = o.workersMaxRequests === undefined ? Infinity : o.workersMaxRequests + random(o.workersMaxRequestsJitter);
    this.tracked.set(w.index, { w, expires: performance.now() + lifetime, maxRequests, overRss: 0 });
  }

  /** The worker is going (replaced, dead): nothing more to decide about it. */
  forget(index: number) {
    this.tracked.delete(index);
  }

  private fire(t: Tracked, reason: string) {
    this.tracked.delete(t.w.index);
    this.replace(t.w.index, reason);
  }

  private check = () => {
    const now = performance.now();
    for (const t of this.tracked.values()) {
      if (now >= t.expires) this.fire(t, "reached its lifetime");
      else if (this.table.requests(t.w.slot) >= t.maxRequests) this.fire(t, `served ${t.maxRequests} requests`);
    }
  };

  private sample = () => {
    const limit = this.opts.workersMaxRss!;
    for (const t of this.tracked.values()) {
      const rss = rssMiB(t.w.pid);
      t.overRss = rss > limit ? t.overRss + 1 : 0;
      if (t.overRss >= this.opts.rssSamples) this.fire(t, `uses ${rss.toFixed(0)} MiB (over --workers-max-rss ${limit})`);
    }
  };
}
