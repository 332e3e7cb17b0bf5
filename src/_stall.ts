/**
 * Deadlines on request-body reads (--body-read-timeout), kept by one sweeping timer per thread
 * rather than a timer per read: every small POST reads its body under a deadline, and a
 * `setTimeout` + `Promise.race` + `finally` per read cost twice what a deadline in a list does
 * (bench/stall.bench.ts: ~0.55 µs against ~0.22 per read). A stalled read is noticed up to one
 * sweep period late: a tenth of its timeout, 10 ms to 1 s.
 *
 * The deadlines are an array, each knowing its place, not a Set: JavaScriptCore keeps what a
 * Set held through young-generation collections even after `delete`, and a deadline reaches its
 * request (src/_stream_table.ts says what that cost).
 */

export const STALLED = Symbol("stalled");

interface Watched {
  deadline: number;
  stall: () => void;
  /** Its index in `watched`; -1 once it is not watched (unwatched, or stalled). */
  at: number;
}

const watched: Watched[] = [];

/** Take `w` out of `watched`: the last one moves into its place. */
function remove(w: Watched) {
  const last = watched.pop()!;
  if (last !== w) {
    watched[w.at] = last;
    last.at = w.at;
  }
  w.at = -1;
}

let sweeper: ReturnType<typeof setInterval> | null = null;
let period = Infinity;

function sweep() {
  const now = performance.now();
  // From the end: removing one moves the last into its place, which was looked at already.
  for (let i = watched.length - 1; i >= 0; i--) {
    const w = watched[i];
    // A stall may have unwatched others (it answers its request, whose other reads end).
    if (w === undefined || w.deadline > now) continue;
    remove(w);
    w.stall();
  }
  if (watched.length === 0) stopSweeping();
}

function stopSweeping() {
  if (sweeper) clearInterval(sweeper);
  sweeper = null;
  period = Infinity;
}

function sweepEvery(ms: number) {
  const p = Math.min(1000, Math.max(10, Math.floor(ms / 10)));
  if (sweeper && p >= period) return;
  if (sweeper) clearInterval(sweeper);
  period = p;
  sweeper = setInterval(sweep, p);
  // The reads it watches keep their requests (and so the server) alive; the sweep alone must
  // not keep an embedding app's process waiting after `server.stop()`.
  sweeper.unref();
}

/** A deadline being watched: `unwatch` it when the read settles. */
export type Deadline = object;

/** Call `stall` once `ms` have passed, unless `unwatch`ed before; null when `ms` is 0 (never). */
export function watch(ms: number, stall: () => void): Deadline | null {
  if (ms <= 0) return null;
  const w: Watched = { deadline: performance.now() + ms, stall, at: watched.length };
  watched.push(w);
  sweepEvery(ms);
  return w;
}

/** Stop watching `d`: false when it stalled already (its `stall` ran, or is running). */
export function unwatch(d: Deadline | null): boolean {
  if (d === null) return true;
  const w = d as Watched;
  if (w.at < 0) return false;
  remove(w);
  return true;
}

/**
 * `p`, or STALLED when it takes longer than `ms` (0: never). A client that stops sending its
 * body must not hold its request slot (and the app) forever.
 */
export function orStall<T>(p: Promise<T>, ms: number): Promise<T | typeof STALLED> {
  if (ms <= 0) return p;
  return new Promise<T | typeof STALLED>((resolve, reject) => {
    const d = watch(ms, () => resolve(STALLED));
    p.then(
      (v) => unwatch(d) && resolve(v),
      (e) => unwatch(d) && reject(e),
    );
  });
}

export const isStalled = (v: unknown): v is typeof STALLED => v === STALLED;
