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
    expect(r.stderr.trim()).toBe('error: invalid value for GRANIAN_LOOP: "trio" (expected one of auto, asyncio, uvloop, rloop, winloop)');
  });

  test("an unknown interface names the choices", async () => {
    const r = await cli(["serve", "--interface", "cgi", "main:app"]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe('error: invalid value for --interface: "cgi" (expected one of asgi, asginl, rsgi, wsgi)');
  });

  test("--interface rsgi starts and serves", async () => {
    const root = join(import.meta.dir, "../..");
    const proc = Bun.spawn(
      [process.execPath, BIN, "serve", "--interface", "rsgi", "--port", "0", "--python", join(root, ".venv/bin/python"),
        "--working-dir", join(root, "tests/e2e/apps"), "raw_rsgi:app"],
      // Not NODE_ENV=test (set by bun test): consola would start its tagged loggers at warn level.
      { stdout: "pipe", stderr: "pipe", env: { ...process.env, NODE_ENV: "production" } },
    );
    try {
      // consola writes info lines to stdout or stderr depending on the terminal: watch both.
      let out = "";
      const listening = /Listening at: http:\/\/[^:]+:(\d+)/;
      const watch = async (stream: ReadableStream<Uint8Array>) => {
        const decoder = new TextDecoder();
        for await (const chunk of stream) {
          out += decoder.decode(chunk);
          if (listening.test(out)) return;
        }
      };
      await Promise.race([watch(proc.stdout), watch(proc.stderr)]);
      const port = out.match(listening)?.[1];
      expect(port).toBeDefined();
      expect(out).toContain("(rsgi, 1 worker(s)");
      const r = await fetch(`http://127.0.0.1:${port}/str`);
      expect(await r.text()).toBe("h\u00e9llo");
    } finally {
      proc.kill("SIGTERM");
    }
    expect(await proc.exited).toBe(0);
  }, 30_000);

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
