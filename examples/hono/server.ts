/**
 * TS routes (Hono) and a FastAPI app (examples/hono/pyapp.py) on one port, one Bun.serve:
 *
 *   bun examples/hono/server.ts          # PORT=3000 by default
 *   curl localhost:3000/                 # Hono
 *   curl localhost:3000/py/items/1       # FastAPI, with root_path "/py"
 *
 * Websockets of the Python app (ws://localhost:3000/py/ws) upgrade through this server.
 */
import { Hono } from "hono";
import { createHandler } from "granian-ts";

const py = await createHandler({
  target: "pyapp:app",
  interface: "asgi",
  workers: 2,
  urlPathPrefix: "/py",
  workingDir: import.meta.dir,
});

const app = new Hono();
app.get("/", (c) => c.text("Hello from Hono"));
app.get("/api/sum", (c) => c.json({ sum: Number(c.req.query("a")) + Number(c.req.query("b")) }));
// replaceRequest: false hands the Python app the request as Bun gave it: the client's address
// and the websocket upgrade stay available (a rebuilt Request has neither).
app.mount("/py", py.fetch, { replaceRequest: false });

const server = Bun.serve({
  hostname: process.env.HOST ?? "127.0.0.1",
  port: Number(process.env.PORT ?? 3000),
  fetch: app.fetch,
  websocket: py.websocket,
});
console.log(`Listening at: http://${server.hostname}:${server.port}`);

for (const signal of ["SIGINT", "SIGTERM"] as const)
  process.on(signal, async () => {
    await server.stop();
    await py.close();
    process.exit(0);
  });
