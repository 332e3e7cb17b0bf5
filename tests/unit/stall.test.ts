import { describe, expect, test } from "bun:test";
import { STALLED, isStalled, orStall, unwatch, watch } from "../../src/_stall.ts";

const later = <T>(ms: number, v: T) => new Promise<T>((r) => setTimeout(() => r(v), ms));

/** Wait until `cond` holds (checked every 5 ms), at most `ms`: a busy box gets the time it needs. */
async function until(cond: () => boolean, ms = 5000) {
  const end = performance.now() + ms;
  while (!cond() && performance.now() < end) await later(5, 0);
}

describe("orStall (--body-read-timeout)", () => {
  test("a read that settles in time gives its value, and its failure", async () => {
    expect(await orStall(Promise.resolve("body"), 1000)).toBe("body");
    expect(await orStall(later(5, "late body"), 1000)).toBe("late body");
    await expect(orStall(Promise.reject(new Error("gone")), 1000)).rejects.toThrow("gone");
  });

  test("a read past its deadline stalls, noticed within a sweep period (a tenth of it)", async () => {
    const t0 = performance.now();
    const v = await orStall(new Promise(() => {}), 200);
    const waited = performance.now() - t0;
    expect(isStalled(v)).toBe(true);
    expect(v).toBe(STALLED);
    expect(waited).toBeGreaterThanOrEqual(199);
    expect(waited).toBeLessThan(2000); // 220 ms unloaded; the margin is for a busy box
  });

  test("a shorter deadline than the sweep period so far is kept to", async () => {
    const long = orStall(new Promise(() => {}), 20_000); // sweeps each second
    const t0 = performance.now();
    expect(isStalled(await orStall(new Promise(() => {}), 100))).toBe(true);
    expect(performance.now() - t0).toBeLessThan(900);
    void long;
  });

  test("0 means no deadline: the promise itself", () => {
    const p = Promise.resolve(1);
    expect(orStall(p, 0)).toBe(p);
  });

  test("many reads, each settled alone, none stalls", async () => {
    const reads = Array.from({ length: 1000 }, (_, i) => orStall(later(i % 20, i), 5000));
    expect(await Promise.all(reads)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
  });
});

describe("watch / unwatch", () => {
  test("unwatch is true while the deadline is watched and false once it stalled", async () => {
    const d = watch(5000, () => {});
    expect(unwatch(d)).toBe(true);
    expect(unwatch(d)).toBe(false);
    expect(unwatch(null)).toBe(true);
    expect(watch(0, () => {})).toBeNull();
    let stalled = false;
    const late = watch(50, () => (stalled = true));
    await until(() => stalled);
    expect(stalled).toBe(true);
    expect(unwatch(late)).toBe(false);
  });

  test("of many deadlines, the stalled ones stall once and the unwatched ones never", async () => {
    const stalls = new Map<number, number>();
    const ds = Array.from({ length: 300 }, (_, i) =>
      watch(i % 3 === 0 ? 30 : 60_000, () => stalls.set(i, (stalls.get(i) ?? 0) + 1)),
    );
    // Unwatch a scattered half of the long ones now: each removal moves another into its place.
    for (let i = 0; i < 300; i++) if (i % 3 !== 0 && i % 2 === 0) expect(unwatch(ds[i]!)).toBe(true);
    await until(() => stalls.size >= 100);
    await later(50, 0); // a few more sweeps: none stalls twice, no long one stalls
    expect([...stalls.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, k) => k * 3));
    expect([...stalls.values()].every((n) => n === 1)).toBe(true);
    for (let i = 0; i < 300; i++) if (i % 3 !== 0 && i % 2 !== 0) expect(unwatch(ds[i]!)).toBe(true);
  });

  test("a stall that unwatches other deadlines leaves the rest watched", async () => {
    const fired: string[] = [];
    const others = Array.from({ length: 20 }, (_, i) => watch(20, () => fired.push(`o${i}`)));
    watch(20, () => {
      fired.push("first");
      for (const d of others.slice(0, 10)) unwatch(d);
    });
    // All 21 are due in the same sweep, which handles them all before the test looks again.
    await until(() => fired.includes("first"));
    // Whichever ran first, each ran at most once, and none of the others is left watched.
    expect(new Set(fired).size).toBe(fired.length);
    expect(fired).toContain("first");
    for (const d of others) expect(unwatch(d)).toBe(false);
  });

  test("a deadline unwatched is not kept alive through a young-generation GC (as a Set would)", () => {
    const { edenGC, fullGC, heapStats } = require("bun:jsc");
    const count = () => heapStats().objectTypeCounts.Headers ?? 0;
    const sink: Headers[] = [];
    const open: object[] = [];
    const step = () => {
      const h = new Headers({ a: "b" });
      open.push(watch(60_000, () => sink.push(h))!);
      if (open.length > 64) unwatch(open.shift()!);
    };
    for (let i = 0; i < 64; i++) step();
    fullGC();
    const before = count();
    for (let i = 0; i < 1000; i++) step();
    edenGC();
    expect(count() - before).toBeLessThan(200);
    for (const d of open) unwatch(d);
  });
});
