// The TS API as an embedding Bun app uses it: a real Python worker behind a real socket.
import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import { Granian, Interfaces, Loops, OptionError } from "../../src/index.ts";

const ROOT = join(import.meta.dir, "../..");
const python = join(ROOT, ".venv/bin/python");
const servers: Granian[] = [];
afterAll(() => Promise.all(servers.map((s) => s.stop())));

test("serve() resolves once it accepts requests, stop() shuts down", async () => {
  const server = new Granian({
    target: "raw_asgi:app",
    interface: Interfaces.ASGI,
    address: "127.0.0.1",
    port: 0,
    workers: 1,
    runtimeThreads: 2,
    loop: Loops.asyncio,
    workingDir: join(import.meta.dir, "apps"),
    python,
    logLevel: "warning",
  });
  servers.push(server);
  await server.serve();
  expect(server.port).toBeGreaterThan(0);
  const r = await fetch(`http://127.0.0.1:${server.port}/scope?from=api`);
  const scope = (await r.json()) as { query_string: string; state: { greeting: string } };
  expect(scope.query_string).toBe("from=api");
  expect(scope.state.greeting).toBe("hello from lifespan");
  const echo = await fetch(`http://127.0.0.1:${server.port}/echo`, { method: "POST", body: "ping" });
  expect(await echo.text()).toBe("ping");
  await server.stop();
  await server.closed;
  await expect(fetch(`http://127.0.0.1:${server.port}/scope`)).rejects.toThrow();
});

test("a bad option throws OptionError naming it", () => {
  expect(() => new Granian({ target: "m:app", workers: 0 })).toThrow(OptionError);
  expect(() => new Granian({ target: "m:app", runtimeThreads: 1.5 })).toThrow("--runtime-threads");
});

test("serve() rejects with the app's import error", async () => {
  const server = new Granian({ target: "nope_module:app", interface: "asgi", port: 0, python, logLevel: "critical" });
  await expect(server.serve()).rejects.toThrow("No module named 'nope_module'");
});
