// createHandler: a Python app inside a Bun server the test runs itself (plain Bun.serve, Hono,
// Elysia), with real Python workers behind real sockets and real clients.
import { afterAll, expect, test } from "bun:test";
import type { Server } from "bun";
import { Elysia } from "elysia";
import { Hono } from "hono";
import { join } from "node:path";
import { createHandler, OptionError, type PythonHandler } from "../../src/index.ts";

const APPS = join(import.meta.dir, "apps");
const python = join(import.meta.dir, "../../.venv/bin/python");
const base = { interface: "asgi", workingDir: APPS, python, loop: "asyncio", logLevel: "warning" } as const;

const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function handler(options: Partial<Parameters<typeof createHandler>[0]> = {}): Promise<PythonHandler> {
  const py = await createHandler({ ...base, target: "mounted_asgi:app", ...options });
  cleanups.push(() => py.close());
  return py;
}

function serve(fetch: (req: Request, server: Server<unknown>) => Response | Promise<Response>, py: PythonHandler) {
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch, websocket: py.websocket });
  cleanups.push(() => server.stop(true));
  return `http://127.0.0.1:${server.port}`;
}

type Where = { path: string; root_path: string; query_string: string; client: string | null; pid: number; body_bytes: number };
const get = async (url: string, init?: RequestInit) => {
  const r = await fetch(url, init);
  expect(r.status).toBe(200);
  return (await r.json()) as Where;
};

/** The first message of mounted_asgi's websocket (where the app thinks it is), then one echo. */
function websocket(url: string): Promise<{ where: Where; echo: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    let where: Where;
    ws.onmessage = (e) => {
      if (!where) {
        where = JSON.parse(String(e.data));
        ws.send("hi");
      } else {
        resolve({ where, echo: String(e.data) });
        ws.close();
      }
    };
    ws.onerror = () => reject(new Error(`websocket ${url} failed`));
    ws.onclose = (e) => reject(new Error(`websocket ${url} closed ${e.code} before the echo`));
  });
}

function isAlive(pid: number) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test("plain Bun.serve: requests, bodies, client address, websockets through the host server", async () => {
  const py = await handler({ workers: 2 });
  const url = serve(py.fetch, py);
  const r = await get(`${url}/a/b?x=1`);
  expect(r).toMatchObject({ path: "/a/b", root_path: "", query_string: "x=1", client: "127.0.0.1", body_bytes: 0 });
  // A streamed body (past the small-body cut) and a small one.
  const big = new Uint8Array(3 * 1024 * 1024).fill(7);
  expect((await get(`${url}/up`, { method: "POST", body: big })).body_bytes).toBe(big.length);
  expect((await get(`${url}/up`, { method: "POST", body: "tiny" })).body_bytes).toBe(4);
  // Both workers serve: concurrent slow requests spread over the two processes.
  const pids = new Set((await Promise.all(Array.from({ length: 6 }, () => get(`${url}/slow?delay=0.3`)))).map((w) => w.pid));
  expect(pids.size).toBe(2);
  const ws = await websocket(`${url.replace("http", "ws")}/ws?room=1`);
  expect(ws.where).toMatchObject({ path: "/ws", query_string: "room=1", client: "127.0.0.1" });
  expect(ws.echo).toBe("echo: hi");
});

test("urlPathPrefix: the app sees the client's full path whether the host strips the prefix or not", async () => {
  const py = await handler({ urlPathPrefix: "/py/" });
  const strip = (req: Request) => {
    const u = new URL(req.url);
    u.pathname = u.pathname.slice(3) || "/";
    return new Request(u.href, req);
  };
  const url = serve((req, server) => (req.url.includes("/strip") ? py.fetch(strip(req), server) : py.fetch(req, server)), py);
  expect(await get(`${url}/py/items?q=1`)).toMatchObject({ path: "/py/items", root_path: "/py", query_string: "q=1" });
  expect(await get(`${url}/py`)).toMatchObject({ path: "/py", root_path: "/py" });
  // The host stripped "/py": the handler puts it back.
  expect(await get(`${url}/py/strip/x?q=2`)).toMatchObject({ path: "/py/strip/x", query_string: "q=2" });
  // "/pyx" is not under "/py".
  expect(await get(`${url}/pyx`)).toMatchObject({ path: "/py/pyx" });
});

test("urlPathPrefix is WSGI's SCRIPT_NAME (given by its old name, rootPath)", async () => {
  const py = await handler({ target: "raw_wsgi:app", interface: "wsgi", rootPath: "/legacy" });
  const url = serve(py.fetch, py);
  const r = await fetch(`${url}/legacy/environ`);
  const environ = (await r.json()) as Record<string, string>;
  expect(environ.SCRIPT_NAME).toBe("/legacy");
  expect(environ.PATH_INFO).toBe("/environ");
});

test("Hono: TS routes and the Python app on one port, mount and app.all, websockets", async () => {
  const py = await handler({ urlPathPrefix: "/py", workers: 2 });
  const raw = await handler({ urlPathPrefix: "/raw" });
  const app = new Hono();
  app.get("/", (c) => c.text("hono"));
  app.all("/py/*", (c) => py.fetch(c.req.raw, c.env as Server<unknown>));
  app.mount("/raw", raw.fetch, { replaceRequest: false });
  const plain = new Hono().mount("/py", py.fetch);
  const url = serve(app.fetch, py);
  const plainUrl = serve(plain.fetch, py);
  expect(await (await fetch(`${url}/`)).text()).toBe("hono");
  // The request as Bun gave it (app.all, mount with replaceRequest: false): all of it reaches the app.
  expect(await get(`${url}/py/x?a=b`)).toMatchObject({ path: "/py/x", root_path: "/py", query_string: "a=b", client: "127.0.0.1" });
  expect((await get(`${url}/py/x`, { method: "POST", body: "abc" })).body_bytes).toBe(3);
  expect(await get(`${url}/raw/y`)).toMatchObject({ path: "/raw/y", root_path: "/raw", client: "127.0.0.1" });
  // A plain mount strips the prefix (the handler restores it) and rebuilds the Request: no client address.
  expect(await get(`${plainUrl}/py/items/1?q=1`)).toMatchObject({ path: "/py/items/1", root_path: "/py", query_string: "q=1" });
  expect((await get(`${plainUrl}/py/up`, { method: "POST", body: "abcd" })).body_bytes).toBe(4);
  // Websockets upgrade through Hono's server.
  for (const path of ["/py/ws", "/raw/ws"]) {
    const ws = await websocket(`${url.replace("http", "ws")}${path}`);
    expect(ws.where.path).toBe(path);
    expect(ws.echo).toBe("echo: hi");
  }
});

test("Elysia: mount", async () => {
  const py = await handler({ urlPathPrefix: "/py" });
  const app = new Elysia().get("/", () => "elysia").mount("/py", py.fetch);
  // Elysia's fetch takes no server (Elysia keeps its own from listen()): no client address here.
  const url = serve((req) => app.fetch(req) as Promise<Response>, py);
  expect(await (await fetch(`${url}/`)).text()).toBe("elysia");
  expect(await get(`${url}/py/z?k=v`)).toMatchObject({ path: "/py/z", root_path: "/py", query_string: "k=v" });
  expect((await get(`${url}/py/up`, { method: "POST", body: "abc" })).body_bytes).toBe(3);
});

test("close() closes websockets with 1001, lets in-flight requests finish, then answers 503 and stops the workers", async () => {
  const py = await handler();
  const url = serve(py.fetch, py);
  const { pid } = await get(`${url}/`);
  const ws = new WebSocket(`${url.replace("http", "ws")}/ws`);
  const wsClosed = new Promise<number>((r) => (ws.onclose = (e) => r(e.code)));
  await new Promise((r) => (ws.onmessage = r));
  const slow = get(`${url}/slow?delay=0.5`);
  await Bun.sleep(100); // the request must be in flight, not waiting in the kernel's accept queue
  const closed = py.close();
  expect(await wsClosed).toBe(1001); // "going away"
  expect((await slow).pid).toBe(pid);
  await closed;
  expect((await fetch(`${url}/`)).status).toBe(503);
  expect(isAlive(pid)).toBe(false);
});

test("a worker that dies is respawned; the other one serves meanwhile", async () => {
  const py = await handler({ workers: 2 });
  const url = serve(py.fetch, py);
  const pids = new Set((await Promise.all(Array.from({ length: 6 }, () => get(`${url}/slow?delay=0.3`)))).map((w) => w.pid));
  const [victim] = [...pids];
  process.kill(victim!, "SIGKILL");
  // Once the process is gone the kernel has closed its socket; requests sent after that never reach it.
  while (isAlive(victim!)) await Bun.sleep(10);
  // Every request succeeds while worker 1 is down and after it is back.
  for (let i = 0; i < 20; i++) expect((await get(`${url}/`)).pid).not.toBe(victim);
  for (let i = 0; ; i++) {
    const now = new Set((await Promise.all(Array.from({ length: 6 }, () => get(`${url}/slow?delay=0.2`)))).map((w) => w.pid));
    if (now.size === 2) break;
    expect(i).toBeLessThan(100);
  }
});

test("a worker in a crash loop is not replaced again; waiting requests then get 503", async () => {
  const py = await handler({ target: "raw_asgi:app", backpressureTimeout: 0.3, logLevel: "critical" });
  const url = serve(py.fetch, py);
  for (let death = 1; death <= 3; death++) {
    expect((await fetch(`${url}/die`, { method: "POST" })).status).toBe(502);
    if (death === 3) break;
    // Replaced: requests are answered again (they wait in the pool's queue meanwhile).
    for (let i = 0; (await fetch(`${url}/status`)).status !== 200; i++) expect(i).toBeLessThan(100);
  }
  const r = await fetch(`${url}/status`);
  expect(r.status).toBe(503);
  expect(r.headers.get("retry-after")).toBe("1");
});

test("bad options throw OptionError; an app that fails to start rejects", async () => {
  await expect(createHandler({ target: "m:app", workers: 0 })).rejects.toThrow(OptionError);
  await expect(createHandler({ ...base, target: "nope_module:app", logLevel: "critical" })).rejects.toThrow("No module named 'nope_module'");
});
