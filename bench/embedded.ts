/**
 * The bench's embedded server (bench/run.py, server "embedded"): a plain Bun.serve whose fetch is
 * `createHandler`'s, on the main thread: what a Bun app that embeds a Python app runs.
 *
 *   bun bench/embedded.ts <interface> <port> <python> <blocking-threads> <module:app>
 */
import { createHandler } from "../src/index.ts";

const [iface, port, python, blockingThreads, target] = process.argv.slice(2);
const py = await createHandler({
  target: target!,
  interface: iface as "asgi",
  workers: 1,
  loop: iface === "wsgi" ? "auto" : "uvloop",
  blockingThreads: iface === "wsgi" ? Number(blockingThreads) : undefined,
  python,
  workingDir: import.meta.dir,
  logLevel: "warning",
});
const server = Bun.serve({ hostname: "127.0.0.1", port: Number(port), fetch: py.fetch, websocket: py.websocket });
process.on("SIGTERM", async () => {
  await server.stop();
  await py.close();
  process.exit(0);
});
