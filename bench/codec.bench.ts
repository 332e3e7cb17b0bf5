/**
 * Micro-benchmarks of the per-request work on the Bun side: the wire codec (src/_protocol.ts)
 * and the Bun APIs the bridge (src/_bridge.ts) calls for every request, with the alternatives
 * it could call instead. Run: node_modules/.bin/bun bench/codec.bench.ts
 */
import { bench, do_not_optimize, group, run, summary } from "mitata";
import { versionOf } from "../src/_bridge.ts";
import { HeadCache } from "../src/_head_cache.ts";
import {
  FLAG_END,
  FrameDecoder,
  FrameType,
  FrameWriter,
  decodeFields,
  decodeResponse,
  encodeFrame,
  encodeResponse,
} from "../src/_protocol.ts";

// A typical browser-ish GET: 10 headers, a query string.
const URL_ = "http://127.0.0.1:8000/api/items/42?page=2&sort=name";
const HEADERS: [string, string][] = [
  ["host", "127.0.0.1:8000"],
  ["user-agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"],
  ["accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"],
  ["accept-language", "en-US,en;q=0.5"],
  ["accept-encoding", "gzip, deflate, br, zstd"],
  ["connection", "keep-alive"],
  ["cookie", "session=8f14e45fceea167a5a36dedd4bea2543; theme=dark"],
  ["upgrade-insecure-requests", "1"],
  ["sec-fetch-dest", "document"],
  ["cache-control", "max-age=0"],
];
const REQ = new Request(URL_, { headers: HEADERS });

/** The REQUEST head exactly as the bridge builds it (docs/protocol.md). */
function buildHead(req: Request): string {
  const url = req.url;
  const p = url.indexOf("/", url.indexOf("//") + 2);
  const q = url.indexOf("?", p);
  let head =
    req.method + "\0http\0" + "1.1\0" + "127.0.0.1\0" + "50000\0" +
    (p < 0 ? "/" : q < 0 ? url.slice(p) : url.slice(p, q) + "\0" + url.slice(q + 1));
  if (q < 0) head += "\0";
  for (const [name, value] of req.headers) head += "\0" + name + "\0" + value;
  return head;
}
const HEAD = buildHead(REQ);
const HEAD_BYTES = new TextEncoder().encode(HEAD);

// The writer never flushes here (its setImmediate cannot run inside a synchronous loop), so
// each iteration rewinds it: what is measured is the encoding, as in one event-loop turn.
const writer = new FrameWriter((data) => data.length);

// A RESPONSE as the bench app sends it: status, 2 headers, 1 KiB body, END.
const RESPONSE_PAYLOAD = encodeResponse(
  200,
  [["content-type", "text/plain"], ["content-length", "1024"]],
  new Uint8Array(1024).fill(120),
);

// 100 RESPONSE frames back to back, as one socket read could deliver them.
const FRAME = encodeFrame(FrameType.RESPONSE, FLAG_END, 1, RESPONSE_PAYLOAD);
const STREAM = new Uint8Array(FRAME.length * 100);
for (let i = 0; i < 100; i++) STREAM.set(FRAME, i * FRAME.length);
const CHUNKS_4K: Uint8Array[] = [];
for (let off = 0; off < STREAM.length; off += 4096) CHUNKS_4K.push(STREAM.subarray(off, off + 4096));
// One 1 MiB body frame (MAX_CHUNK) arriving in 64 KiB socket reads: the carry path.
const BIG = encodeFrame(FrameType.RESPONSE_BODY, 0, 1, new Uint8Array(1024 * 1024).fill(120));
const BIG_CHUNKS: Uint8Array[] = [];
for (let off = 0; off < BIG.length; off += 64 * 1024) BIG_CHUNKS.push(BIG.subarray(off, off + 64 * 1024));
let frames = 0;
const frameDecoder = new FrameDecoder(() => {
  frames++;
});

group("encode a REQUEST head (GET, 10 headers)", () => {
  summary(() => {
    bench("FrameWriter.text (head string given)", () => {
      writer.length = 0;
      writer.text(FrameType.REQUEST, FLAG_END, 1, HEAD);
    });
    bench("build head from Request + FrameWriter.text", () => {
      writer.length = 0;
      writer.text(FrameType.REQUEST, FLAG_END, 1, buildHead(REQ));
    });
    bench("encodeFrame(TextEncoder.encode(head)) (allocating)", () => {
      do_not_optimize(encodeFrame(FrameType.REQUEST, FLAG_END, 1, new TextEncoder().encode(HEAD)));
    });
  });
});

group("decode", () => {
  bench("decodeResponse (200, 2 headers, 1 KiB body)", () => do_not_optimize(decodeResponse(RESPONSE_PAYLOAD)));
  bench("decodeFields (REQUEST head, 10 headers)", () => do_not_optimize(decodeFields(HEAD_BYTES)));
});

group("FrameDecoder: 100 RESPONSE frames (~1.1 KiB each)", () => {
  summary(() => {
    bench("one chunk", () => {
      frameDecoder.push(STREAM);
    });
    bench("4 KiB chunks (frames split across reads)", () => {
      for (const c of CHUNKS_4K) frameDecoder.push(c);
    });
  });
});

group("FrameDecoder: one 1 MiB RESPONSE_BODY frame", () => {
  summary(() => {
    bench("one chunk", () => {
      frameDecoder.push(BIG);
    });
    bench("64 KiB chunks", () => {
      for (const c of BIG_CHUNKS) frameDecoder.push(c);
    });
  });
});

// Each variant builds the same "\0name\0value" string, so the work after the walk is equal.
group("walk Request.headers (10 headers)", () => {
  summary(() => {
    bench("for (const [k, v] of headers)", () => {
      let s = "";
      for (const [k, v] of REQ.headers) s += "\0" + k + "\0" + v;
      return do_not_optimize(s);
    });
    bench("headers.forEach((v, k) => ...)", () => {
      let s = "";
      REQ.headers.forEach((v, k) => {
        s += "\0" + k + "\0" + v;
      });
      return do_not_optimize(s);
    });
    bench("headers.toJSON() + for..in", () => {
      let s = "";
      const h = REQ.headers.toJSON();
      for (const k in h) s += "\0" + k + "\0" + h[k];
      return do_not_optimize(s);
    });
    // What the bridge does: the walk also notes what tells HTTP/2 from HTTP/1 (versionOf).
    bench("headers.toJSON() + for..in + versionOf", () => {
      let s = "";
      let count = 0;
      let last = "";
      let hasHost = false;
      const h = REQ.headers.toJSON();
      for (const k in h) {
        s += "\0" + k + "\0" + h[k];
        count++;
        last = k;
        if (k === "host") hasHost = true;
      }
      return do_not_optimize(versionOf("auto", hasHost, last, count) + s);
    });
    bench("headers.toJSON() + Object.entries", () => {
      let s = "";
      for (const [k, v] of Object.entries(REQ.headers.toJSON())) s += "\0" + k + "\0" + v;
      return do_not_optimize(s);
    });
  });
});

// What the bridge has after decodeResponse is an array of pairs; the object variants show
// what converting would buy (or cost).
const BODY = new Uint8Array(1024).fill(120);
const RESP_ARRAY: [string, string][] = [
  ["content-type", "text/plain"],
  ["content-length", "1024"],
  ["x-request-id", "5f2b9c"],
];
const RESP_OBJECT: Record<string, string> = Object.fromEntries(RESP_ARRAY);

group("new Response(1 KiB body, { status, headers }) (3 headers)", () => {
  summary(() => {
    bench("headers: array of pairs", () => do_not_optimize(new Response(BODY, { status: 200, headers: RESP_ARRAY })));
    bench("headers: object literal (prebuilt)", () =>
      do_not_optimize(new Response(BODY, { status: 200, headers: RESP_OBJECT })),
    );
    bench("headers: object built from the pairs", () => {
      const h: Record<string, string> = {};
      for (const [k, v] of RESP_ARRAY) h[k] = v;
      return do_not_optimize(new Response(BODY, { status: 200, headers: h }));
    });
    bench("headers: new Headers(pairs)", () =>
      do_not_optimize(new Response(BODY, { status: 200, headers: new Headers(RESP_ARRAY) })),
    );
    bench("no headers (floor)", () => do_not_optimize(new Response(BODY, { status: 200 })));
  });
});

// What Responder.onResponse does with a small whole response: decode its head, build the Response.
const SMALL_PAYLOAD = encodeResponse(200, [["content-type", "application/json"], ["content-length", "27"]], new Uint8Array(27));
const heads = new HeadCache();
group("response head: decode + new Response (2 headers, 27-byte body)", () => {
  summary(() => {
    bench("decodeResponse + object headers", () => {
      const h = decodeResponse(SMALL_PAYLOAD);
      return do_not_optimize(new Response(h.body.slice(), { status: h.status, headers: h.headers }));
    });
    bench("HeadCache.decode (a hit) + Headers", () => {
      const h = heads.decode(SMALL_PAYLOAD);
      return do_not_optimize(new Response(h.body.slice(), { status: h.status, headers: h.headers }));
    });
  });
});

await run();
if (frames === 0) throw new Error("FrameDecoder decoded no frame: the benchmark measured nothing");
