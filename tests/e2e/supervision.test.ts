// Supervision through the TS API: server.reload() is the rolling restart SIGHUP does, and a
// listener thread that dies is replaced. Real Python workers behind real sockets.
import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import { Granian, Interfaces } from "../../src/index.ts";

const python = join(import.meta.dir, "../../.venv/bin/python");
const servers: Granian[] = [];
afterAll(() => Promise.all(servers.map((s) => s.stop())));

function server(extra: Partial<ConstructorParameters<typeof Granian>[0]> = {}) {
  const s = new Granian({
    target: "supervised:app",
    interface: Interfaces.ASGI,
    port: 0,
    workingDir: join(import.meta.dir, "apps"),
    python,
    logLevel: "warning",
    ...extra,
  });
  servers.push(s);
  return s;
}

test("reload() replaces every worker one at a time while requests keep being answered", async () => {
  const s = server({ workers: 2, respawnInterval: 0 });
  await s.serve();
  const before = s.workerPids;
  const statuses: number[] = [];
  let going = true;
  const load = (async () => {
    while (going) statuses.push((await fetch(`http://127.0.0.1:${s.port}/`)).status);
  })();
  expect(await s.reload()).toBe(true);
  going = false;
  await load;
  const after = s.workerPids;
  expect(after).toHaveLength(2);
  expect(after.filter((p) => before.includes(p))).toEqual([]);
  expect(statuses.length).toBeGreaterThan(10);
  expect(statuses.every((c) => c === 200)).toBe(true);
}, 30_000);

test("a listener thread that dies is replaced", async () => {
  // Two listeners: the first runs on the main thread, the second on a Worker thread.
  const s = server({ workers: 1, runtimeThreads: 2 });
  await s.serve();
  // Internal handle: end the thread as a crash would.
  (s as unknown as { supervisor: { listeners: { terminate(at: number): void } } }).supervisor.listeners.terminate(1);
  const deadline = Date.now() + 10_000;
  let ok = false;
  while (!ok && Date.now() < deadline) {
    try {
      ok = (await fetch(`http://127.0.0.1:${s.port}/`)).status === 200;
    } catch {
      await Bun.sleep(50);
    }
  }
  expect(ok).toBe(true);
}, 20_000);
