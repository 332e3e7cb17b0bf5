import { describe, expect, test } from "bun:test";
import { edenGC, fullGC, heapStats } from "bun:jsc";
import { StreamTable } from "../../src/_stream_table.ts";

class S {
  constructor(
    readonly id: number,
    readonly tag = "",
    readonly headers: Headers | null = null,
  ) {}
}

const headersAlive = () => heapStats().objectTypeCounts.Headers ?? 0;

describe("StreamTable (the streams of a worker connection, by id)", () => {
  test("ids increase, never 0, and each finds its stream until it is deleted", () => {
    const t = new StreamTable<S>();
    const ids: number[] = [];
    for (let i = 0; i < 10; i++) {
      const id = t.nextId();
      ids.push(id);
      t.set(new S(id, `s${i}`));
    }
    expect(ids[0]).toBeGreaterThan(0);
    for (let i = 1; i < ids.length; i++) expect(ids[i]!).toBeGreaterThan(ids[i - 1]!);
    expect(t.size).toBe(10);
    expect(t.get(ids[3]!)?.tag).toBe("s3");
    expect(t.delete(ids[3]!)).toBe(true);
    expect(t.get(ids[3]!)).toBeUndefined();
    expect(t.delete(ids[3]!)).toBe(false);
    expect(t.size).toBe(9);
    expect(t.values().map((s) => s.tag).sort()).toEqual(["s0", "s1", "s2", "s4", "s5", "s6", "s7", "s8", "s9"]);
  });

  test("a long-lived stream keeps its id: later ids skip its slot, and a stale id finds nothing", () => {
    const t = new StreamTable<S>();
    const longId = t.nextId();
    t.set(new S(longId, "long poll"));
    const seen = new Set<number>([longId]);
    // Many short streams come and go past it: they wrap round the table many times.
    for (let i = 0; i < 10_000; i++) {
      const id = t.nextId();
      expect(seen.has(id)).toBe(false);
      seen.add(id);
      t.set(new S(id));
      expect(t.get(longId)?.tag).toBe("long poll");
      t.delete(id);
      // A frame that raced with the end of that stream reaches nobody, even once its slot is reused.
      expect(t.get(id)).toBeUndefined();
    }
    expect(t.size).toBe(1);
    expect(t.get(longId)?.tag).toBe("long poll");
  });

  test("the table grows with the streams open at once, and every one is still found", () => {
    const t = new StreamTable<S>();
    const open: number[] = [];
    for (let i = 0; i < 5000; i++) {
      const id = t.nextId();
      t.set(new S(id, String(i)));
      open.push(id);
      // Close every third one: the open ones are scattered over the slots as the table grows.
      if (i % 3 === 0) t.delete(open.splice(open.length >> 1, 1)[0]!);
    }
    expect(t.size).toBe(open.length);
    for (const id of open) expect(t.get(id)?.id).toBe(id);
    expect(new Set(t.values().map((s) => s.id))).toEqual(new Set(open));
  });

  test("setting a stream whose slot is taken is refused (a caller that skipped nextId)", () => {
    const t = new StreamTable<S>();
    const id = t.nextId();
    t.set(new S(id));
    expect(() => t.set(new S(id))).toThrow(/slot is taken/);
  });

  test("clear empties it, and ids go on increasing", () => {
    const t = new StreamTable<S>();
    const a = t.nextId();
    t.set(new S(a));
    t.clear();
    expect(t.size).toBe(0);
    expect(t.get(a)).toBeUndefined();
    expect(t.nextId()).toBeGreaterThan(a);
  });

  test("a stream deleted from the table is not kept alive through a young-generation GC (as a Map would)", () => {
    // The reason the table exists: JSC keeps what a Map held past an eden collection even after
    // delete, and so promoted every finished request. 1000 streams, 64 open at a time.
    const t = new StreamTable<S>();
    const open: number[] = [];
    const step = () => {
      const id = t.nextId();
      t.set(new S(id, "", new Headers({ a: "b" })));
      open.push(id);
      if (open.length > 64) t.delete(open.shift()!);
    };
    for (let i = 0; i < 64; i++) step();
    fullGC();
    const before = headersAlive();
    for (let i = 0; i < 1000; i++) step();
    edenGC();
    const kept = headersAlive() - before;
    // 64 are open; a Map keeps ~970 (bench/RESULTS.md).
    expect(kept).toBeLessThan(200);
  });
});
