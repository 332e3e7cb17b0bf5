/**
 * The floor under granian-ts's POST path: a bare Bun.serve whose POST /echo goes the way the
 * bridge's does, through a Unix socket to a Python process and back, with no protocol beyond a
 * length prefix. Bun reads the body whole (`req.bytes()`), batches every body of an event-loop
 * turn into one write (setImmediate), and answers each from the peer's reply, a view into the
 * socket read, with fixed headers. The peer (bench/floor_bridge_peer.py, uvloop) writes back
 * what it reads. What granian-ts's Bun side spends on a POST above this is the bridge's own
 * work (head, streams, frames, the response head decoded); what this spends is the data flow's.
 *
 *   node_modules/.bin/bun bench/floor_bridge.ts <port> [python]
 *   wrk -t2 -c64 -d5s -s bench/post.lua http://127.0.0.1:<port>/echo
 */
import { existsSync, unlinkSync } from "node:fs";

const [port, python = ".venv/bin/python"] = process.argv.slice(2);
const path = `/tmp/granian-ts-floor-bridge-${port}.sock`;
if (existsSync(path)) unlinkSync(path);
const peer = Bun.spawn([python, new URL("floor_bridge_peer.py", import.meta.url).pathname, path], {
  stdio: ["ignore", "inherit", "inherit"],
});
for (let i = 0; i < 200 && !existsSync(path); i++) await Bun.sleep(25);

const HEADERS = new Headers({ "content-type": "application/octet-stream" });
const waiting: ((r: Response) => void)[] = [];

// Replies: u32 length + bytes, in request order. A reply split across reads is joined.
let partial: Uint8Array | null = null;
function onData(d: Uint8Array) {
  if (partial) {
    const joined = new Uint8Array(partial.length + d.length);
    joined.set(partial);
    joined.set(d, partial.length);
    d = joined;
    partial = null;
  }
  let off = 0;
  while (d.length - off >= 4) {
    const n = d[off]! | (d[off + 1]! << 8) | (d[off + 2]! << 16) | (d[off + 3]! << 24);
    if (d.length - off - 4 < n) break;
    waiting.shift()!(new Response(d.subarray(off + 4, off + 4 + n), { status: 200, headers: HEADERS }));
    off += 4 + n;
  }
  if (off < d.length) partial = d.slice(off);
}

let out = new Uint8Array(1 << 20);
let queued = 0;
let scheduled = false;
const flush = () => {
  scheduled = false;
  if (queued === 0) return;
  const w = sock.write(out.subarray(0, queued));
  if (w > 0) {
    out.copyWithin(0, w, queued);
    queued -= w;
  }
};
const sock = await Bun.connect({ unix: path, socket: { data: (_s, d) => onData(d), drain: flush } });

function send(body: Uint8Array) {
  if (queued + 4 + body.length > out.length) {
    const grown = new Uint8Array(Math.max(out.length * 2, queued + 4 + body.length));
    grown.set(out.subarray(0, queued));
    out = grown;
  }
  new DataView(out.buffer).setUint32(queued, body.length, true);
  out.set(body, queued + 4);
  queued += 4 + body.length;
  if (!scheduled) {
    scheduled = true;
    setImmediate(flush);
  }
}

const server = Bun.serve({
  hostname: "127.0.0.1",
  port: Number(port),
  async fetch(req) {
    const body = await req.bytes();
    return new Promise<Response>((resolve) => {
      waiting.push(resolve);
      send(body);
    });
  },
});
process.on("SIGTERM", () => {
  server.stop(true);
  peer.kill();
  process.exit(0);
});
