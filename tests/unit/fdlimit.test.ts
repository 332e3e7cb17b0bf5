// The open-files limit through libc (bun:ffi): Bun already raises it when it starts, so the
// e2e test cannot tell whether our own raise works; here the soft limit is lowered first.
import { expect, test } from "bun:test";
import { closeSync, openSync, readFileSync } from "node:fs";
import { getFdLimit, setFdSoftLimit } from "../../src/_libc.ts";
import { openFiles, raiseFdLimit } from "../../src/supervisor/_fdguard.ts";

const softInProc = () => Number(readFileSync("/proc/self/limits", "utf8").split("\n").find((l) => l.startsWith("Max open files"))!.split(/\s+/)[3]);

test("raiseFdLimit takes the soft limit up to the hard one", () => {
  const before = getFdLimit()!;
  expect(before).not.toBeNull();
  expect(before.soft).toBe(softInProc());
  const low = Math.max(64, Math.min(512, before.hard - 1));
  try {
    expect(setFdSoftLimit(low, before.hard)).toBe(true);
    expect(softInProc()).toBe(low);
    expect(raiseFdLimit()).toEqual({ soft: before.hard, hard: before.hard });
    expect(softInProc()).toBe(before.hard);
  } finally {
    setFdSoftLimit(before.soft, before.hard);
  }
});

test("openFiles counts this process's descriptors", () => {
  const n = openFiles();
  expect(n).toBeGreaterThan(2);
  const fd = openSync("/dev/null", "r");
  try {
    expect(openFiles()).toBe(n + 1);
  } finally {
    closeSync(fd);
  }
});
