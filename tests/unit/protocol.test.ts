import { describe, expect, test } from "bun:test";
import golden from "../golden/frames.json";
import {
  FrameDecoder,
  FrameWriter,
  ProtocolError,
  FrameType,
  FLAG_BINARY,
  FLAG_END,
  decodeClose,
  decodeFields,
  encodeClose,
  decodeFileTarget,
  decodeResponse,
  encodeFileTarget,
  encodeFrame,
  encodeResponse,
  MAX_PAYLOAD,
} from "../../src/_protocol.ts";

const hex = (s: string) => Uint8Array.from(Buffer.from(s, "hex"));
const toHex = (b: Uint8Array) => Buffer.from(b).toString("hex");

function decodeAll(chunks: Uint8Array[]) {
  const frames: { type: number; flags: number; stream: number; payload: string }[] = [];
  const d = new FrameDecoder((type, flags, stream, payload) => frames.push({ type, flags, stream, payload: toHex(payload) }));
  for (const c of chunks) d.push(c);
  return { frames, pending: d.pending };
}

describe("golden frames", () => {
  for (const f of golden.frames) {
    test(`${f.name} encodes to the golden bytes`, () => {
      expect(toHex(encodeFrame(f.type, f.flags, f.stream, hex(f.payload_hex)))).toBe(f.hex);
    });
    test(`${f.name} decodes from the golden bytes`, () => {
      expect(decodeAll([hex(f.hex)]).frames).toEqual([{ type: f.type, flags: f.flags, stream: f.stream, payload: f.payload_hex }]);
    });
  }

  test("the whole golden stream decodes byte by byte and in random splits", () => {
    const all = Buffer.concat(golden.frames.map((f) => hex(f.hex)));
    const expected = golden.frames.map((f) => ({ type: f.type, flags: f.flags, stream: f.stream, payload: f.payload_hex }));
    const bytes = [...all].map((b) => Uint8Array.of(b));
    expect(decodeAll(bytes).frames).toEqual(expected);
    for (let round = 0; round < 20; round++) {
      const chunks: Uint8Array[] = [];
      for (let off = 0; off < all.length; ) {
        const n = 1 + Math.floor(Math.random() * 40);
        chunks.push(Uint8Array.from(all.subarray(off, off + n)));
        off += n;
      }
      expect(decodeAll(chunks).frames).toEqual(expected);
    }
  });

  test("request head fields and the latin-1 header value", () => {
    const f = golden.frames.find((g) => g.name === "request_no_body")!;
    const fields = decodeFields(hex(f.payload_hex));
    expect(fields.slice(0, 7)).toEqual(["GET", "http", "1.1", "127.0.0.1", "50000", "/items/%C3%A9", "q=1&r=%20"]);
    expect(fields.slice(7)).toEqual(["host", "example.com", "x-latin", "caf\u00e9"]);
  });

  test("response headers without repeats decode to a plain object", () => {
    const r = decodeResponse(encodeResponse(204, [["x-a", "1"], ["content-type", "text/plain"]]));
    expect(r.status).toBe(204);
    expect(r.headers).toEqual({ "x-a": "1", "content-type": "text/plain" });
    expect(r.body.length).toBe(0);
  });

  test("response head decodes with repeated headers kept", () => {
    const f = golden.frames.find((g) => g.name === "response_with_body_end")!;
    const r = decodeResponse(hex(f.payload_hex));
    expect(r.status).toBe(200);
    expect(r.headers).toEqual([
      ["content-type", "text/plain"],
      ["set-cookie", "a=1"],
      ["set-cookie", "b=2"],
    ]);
    expect(new TextDecoder().decode(r.body)).toBe("hello");
    expect(toHex(encodeResponse(200, r.headers as [string, string][], r.body))).toBe(f.payload_hex);
  });
});

describe("RESPONSE_FILE", () => {
  test("the whole-file golden frame decodes to head and path", () => {
    const f = golden.frames.find((g) => g.name === "response_file")!;
    expect([f.type, f.flags]).toEqual([FrameType.RESPONSE_FILE, 1]);
    const r = decodeResponse(hex(f.payload_hex));
    expect(r.status).toBe(200);
    expect(r.headers).toEqual({ "content-type": "text/plain" });
    expect(decodeFileTarget(r.body)).toEqual({ path: "/srv/static/caf\u00e9.txt" });
    const again = encodeResponse(200, [["content-type", "text/plain"]], encodeFileTarget({ path: "/srv/static/caf\u00e9.txt" }));
    expect(toHex(again)).toBe(f.payload_hex);
  });

  test("the range golden frame decodes to head, path, start and end", () => {
    const f = golden.frames.find((g) => g.name === "response_file_range")!;
    const r = decodeResponse(hex(f.payload_hex));
    expect(r.status).toBe(206);
    expect(r.headers).toEqual({ "content-range": "bytes 2-4/20" });
    const target = decodeFileTarget(r.body);
    expect(target).toEqual({ path: "/srv/data.bin", start: 2, end: 5 });
    expect(toHex(encodeResponse(206, [["content-range", "bytes 2-4/20"]], encodeFileTarget(target)))).toBe(f.payload_hex);
  });

  test("a missing path or a bad range is a protocol error", () => {
    const enc = (s: string) => new TextEncoder().encode(s);
    for (const bad of ["", "/f\u00002", "/f\u00005\u00003", "/f\u0000-1\u00003", "/f\u00001\u0000x", "/f\u00001\u00002\u00003", "/f\u00000\u00001e30"])
      expect(() => decodeFileTarget(enc(bad))).toThrow(ProtocolError);
    expect(decodeFileTarget(enc("/f\u00000\u00001"))).toEqual({ path: "/f", start: 0, end: 1 });
  });
});

describe("malformed input", () => {
  test("a truncated frame waits for the rest", () => {
    const f = hex(golden.frames[0]!.hex);
    const { frames, pending } = decodeAll([f.subarray(0, f.length - 1)]);
    expect(frames).toEqual([]);
    expect(pending).toBe(f.length - 1);
  });

  test("an oversized length is rejected", () => {
    const f = encodeFrame(0x12, 0, 1);
    new DataView(f.buffer).setUint32(0, MAX_PAYLOAD + 1, true);
    expect(() => decodeAll([f])).toThrow(ProtocolError);
  });

  test("an unknown type is rejected", () => {
    expect(() => decodeAll([encodeFrame(0x7f, 0, 1)])).toThrow(ProtocolError);
  });

  test("a response head that is not status + pairs is rejected", () => {
    const head = new TextEncoder().encode("200\0content-type");
    const payload = new Uint8Array(4 + head.length);
    new DataView(payload.buffer).setUint32(0, head.length, true);
    payload.set(head, 4);
    expect(() => decodeResponse(payload)).toThrow(ProtocolError);
    expect(() => decodeResponse(Uint8Array.of(1, 0))).toThrow(ProtocolError);
    const lying = Uint8Array.of(200, 0, 0, 0, 50);
    expect(() => decodeResponse(lying)).toThrow(ProtocolError);
  });
});

test("a 1 MiB frame split into 64 KiB reads decodes whole", () => {
  const payload = Uint8Array.from({ length: 1 << 20 }, (_, i) => i % 253);
  const frame = encodeFrame(0x12, 1, 3, payload);
  const chunks: Uint8Array[] = [];
  // Start mid-header, then 64 KiB pieces, with a small frame glued to the end.
  const tail = encodeFrame(0x14, 0, 3, Uint8Array.of(1, 0, 0, 0));
  const all = Buffer.concat([frame, tail]);
  chunks.push(all.subarray(0, 5));
  for (let off = 5; off < all.length; off += 65536) chunks.push(all.subarray(off, off + 65536));
  const got: { type: number; flags: number; stream: number; payload: Uint8Array }[] = [];
  const d = new FrameDecoder((type, flags, stream, p) => got.push({ type, flags, stream, payload: p.slice() }));
  for (const c of chunks) d.push(c);
  expect(got.length).toBe(2);
  expect(got[0]!.type).toBe(0x12);
  expect(got[0]!.flags).toBe(1);
  expect(Buffer.from(got[0]!.payload).equals(Buffer.from(payload))).toBe(true);
  expect(got[1]!.type).toBe(0x14);
  expect(d.pending).toBe(0);
});

describe("FrameWriter", () => {
  test("batches frames into one write per turn and keeps what the socket did not take", async () => {
    const writes: Uint8Array[] = [];
    let budget = 30;
    const w = new FrameWriter((data) => {
      const n = Math.min(budget, data.length);
      writes.push(data.slice(0, n));
      budget = Infinity;
      return n;
    });
    w.text(0x01, 1, 5, "GET\0http\0\u00e9");
    w.bytes(0x02, 1, 5, Uint8Array.of(1, 2, 3));
    w.u32(0x04, 5, 77);
    await new Promise((r) => setImmediate(r));
    expect(writes.length).toBe(1);
    expect(w.length).toBeGreaterThan(0);
    w.flushNow();
    const all = Buffer.concat(writes);
    const { frames } = decodeAll([all]);
    expect(frames).toEqual([
      { type: 1, flags: 1, stream: 5, payload: Buffer.from("GET\0http\0\u00e9").toString("hex") },
      { type: 2, flags: 1, stream: 5, payload: "010203" },
      { type: 4, flags: 0, stream: 5, payload: "4d000000" },
    ]);
    expect(w.length).toBe(0);
  });

  test("grows past its initial buffer", async () => {
    let out = new Uint8Array(0);
    const w = new FrameWriter((d) => ((out = d.slice()), d.length));
    const big = new Uint8Array(200_000).fill(7);
    w.bytes(0x12, 0, 9, big);
    w.flushNow();
    const { frames } = decodeAll([out]);
    expect(frames.length).toBe(1);
    expect(frames[0]!.payload.length).toBe(400_000);
  });
});

describe("websocket frames", () => {
  test("ws_end decodes to its code and UTF-8 reason, and encodes back", () => {
    const f = golden.frames.find((g) => g.name === "ws_end")!;
    expect(decodeClose(hex(f.payload_hex))).toEqual({ code: 4000, reason: "bye \u00e9" });
    expect(toHex(encodeClose(4000, "bye \u00e9"))).toBe(f.payload_hex);
  });

  test("ws_accept is a 101 response head carrying the subprotocol", () => {
    const f = golden.frames.find((g) => g.name === "ws_accept")!;
    const { status, headers, body } = decodeResponse(hex(f.payload_hex));
    expect(status).toBe(101);
    expect(headers).toEqual({ "sec-websocket-protocol": "chat", "x-extra": "1" });
    expect(body.length).toBe(0);
  });

  test("a close payload without its code is a protocol error", () => {
    expect(() => decodeClose(Uint8Array.of(1))).toThrow(ProtocolError);
  });

  test("binary and end flags of ws frames", () => {
    const f = golden.frames.find((g) => g.name === "ws_message_binary_end")!;
    expect(f.flags).toBe(FLAG_BINARY | FLAG_END);
  });
});
