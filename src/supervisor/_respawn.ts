/**
 * Respawn policy (--respawn-failed-workers): a worker that exits unexpectedly is replaced at
 * once, unless it keeps dying young — then respawning would only spin, and the server stops.
 */

/** A death this soon after the worker was spawned counts towards a crash loop. */
export const CRASH_WINDOW_MS = 5000;
/** Young deaths in a row (per worker id) that make a crash loop. */
export const CRASH_LIMIT = 3;

export class CrashLoop {
  private readonly young = new Map<number, number>();

  /** Worker `index`, spawned at `spawnedAt` (performance.now()), died or failed to start: a crash loop now? */
  died(index: number, spawnedAt: number): boolean {
    const count = performance.now() - spawnedAt < CRASH_WINDOW_MS ? (this.young.get(index) ?? 0) + 1 : 0;
    this.young.set(index, count);
    return count >= CRASH_LIMIT;
  }

  /** Pause before the next attempt: none after a long life, then growing, so a loop is noticed in seconds. */
  backoffMs(index: number): number {
    const n = this.young.get(index) ?? 0;
    return n === 0 ? 0 : Math.min(1000, 100 * 2 ** (n - 1));
  }
}
