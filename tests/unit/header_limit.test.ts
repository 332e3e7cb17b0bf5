import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { OPTIONS } from "../../src/options.ts";
import { HEADER_LIMIT_FLAG, flaggedHeaderLimit } from "../../src/_header_limit.ts";

const ROOT = join(import.meta.dir, "..", "..");
const BUN = process.execPath;

describe("request-head limit", () => {
  test("bin/granian-ts starts Bun with the flag at --http1-buffer-size's default", () => {
    const shim = readFileSync(join(ROOT, "bin", "granian-ts"), "utf8");
    const m = new RegExp(`exec "\\$bun" ${HEADER_LIMIT_FLAG}=(\\d+) `).exec(shim);
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBe(OPTIONS.http1BufferSize.default as number);
  });

  test("the flag is read in both spellings, the last one winning", () => {
    expect(flaggedHeaderLimit([])).toBeUndefined();
    expect(flaggedHeaderLimit(["--smol"])).toBeUndefined();
    expect(flaggedHeaderLimit([`${HEADER_LIMIT_FLAG}=417792`])).toBe(417792);
    expect(flaggedHeaderLimit([HEADER_LIMIT_FLAG, "9000"])).toBe(9000);
    expect(flaggedHeaderLimit([`${HEADER_LIMIT_FLAG}=1`, HEADER_LIMIT_FLAG, "2", `${HEADER_LIMIT_FLAG}=3`])).toBe(3);
  });

  // In a fresh Bun: whether the value Bun ends with is the one asked for, with and without the flag.
  const limitAfter = (execArgs: string[], bytes: number) => {
    const script = `import { setMaxHeaderSize } from ${JSON.stringify(join(ROOT, "src", "_header_limit.ts"))};
      setMaxHeaderSize(${bytes}); console.log(require("node:http").maxHeaderSize);`;
    const r = Bun.spawnSync([BUN, ...execArgs, "-e", script], { stderr: "pipe" });
    expect(r.stderr.toString()).toBe("");
    return Number(r.stdout.toString().trim());
  };

  test("a value the flag already set is left alone; any other is set", () => {
    expect(limitAfter([`${HEADER_LIMIT_FLAG}=417792`], 417792)).toBe(417792);
    expect(limitAfter([`${HEADER_LIMIT_FLAG}=417792`], 16384)).toBe(16384);
    expect(limitAfter([], 417792)).toBe(417792);
  });
});
