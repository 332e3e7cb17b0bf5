import { describe, expect, test } from "bun:test";
import { STALLED, isStalled, orStall } from "../../src/_stall.ts";

const later = <T>(ms: number, v: T) => new Promise<T>((r) => setTimeout(() => r(v), ms));

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
