import { describe, expect, test } from "bun:test";
import { join } from "node:path";

const BIN = join(import.meta.dir, "../../bin/granian-ts.mjs");

async function cli(args: string[], env: Record<string, string> = {}) {
  const proc = Bun.spawn([process.execPath, BIN, ...args], {
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, ...env },
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { stdout, stderr, code };
}

describe("granian-ts CLI errors", () => {
  test("a bad option value exits 2 with one line naming the option", async () => {
    const r = await cli(["serve", "--workers", "zero", "main:app"]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe('error: invalid value for --workers: "zero" (expected an integer from 1 to 1024)');
  });

  test("a bad env var is named too", async () => {
    const r = await cli(["serve", "--interface", "asgi", "main:app"], { GRANIAN_LOOP: "trio" });
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe('error: invalid value for GRANIAN_LOOP: "trio" (expected one of auto, asyncio, uvloop)');
  });

  test("an interface not built yet says so", async () => {
    const r = await cli(["serve", "--interface", "wsgi", "main:app"]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe("error: --interface wsgi is not implemented yet in granian-ts (available: asgi, asginl)");
  });

  test("a missing APP", async () => {
    const r = await cli(["serve", "--interface", "asgi"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("missing APP");
  });

  test("--version", async () => {
    const r = await cli(["--version"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^granian-ts \d+\.\d+\.\d+ \(bun /);
  });

  test("--help lists the options with their env vars", async () => {
    const r = await cli(["serve", "--help"]);
    expect(r.code).toBe(0);
    for (const s of ["--runtime-threads", "GRANIAN_RUNTIME_THREADS", "--interface", "--backpressure"]) expect(r.stdout + r.stderr).toContain(s);
  });
});
