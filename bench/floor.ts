/**
 * The floor under granian-ts's Bun side (bench/run.py, servers "bun-floor" and "bun-floor+ip"):
 * a bare Bun.serve that answers what bench_app.py answers (GET / → 1 KiB of "x", POST /echo →
 * the body), but from JS, after the same deferral the bridge's answer takes (the response
 * resolves a promise on a later event-loop turn, as a worker's frame does). What granian-ts's
 * listener spends above this is the bridge; what this spends is Bun's, whatever a bridge does.
 *
 *   bun bench/floor.ts <port> [ip]
 *
 * `ip`: also ask `server.requestIP(req)` per request, as the bridge must for the scope's client.
 */
const [port, ip] = process.argv.slice(2);
const withIP = ip === "ip";
const BODY = "x".repeat(1024);
const HEADERS = new Headers({ "content-type": "text/plain" });
const ECHO = new Headers({ "content-type": "application/octet-stream" });

const server = Bun.serve({
  hostname: "127.0.0.1",
  port: Number(port),
  fetch(req, srv) {
    if (withIP) srv.requestIP(req);
    if (req.method === "POST")
      return req.arrayBuffer().then((b) => new Response(b, { status: 200, headers: ECHO }));
    return new Promise<Response>((resolve) => setImmediate(() => resolve(new Response(BODY, { status: 200, headers: HEADERS }))));
  },
});
process.on("SIGTERM", () => {
  server.stop(true);
  process.exit(0);
});
