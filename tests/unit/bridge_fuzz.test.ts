/**
 * The Bun side survives anything a frame can carry (docs/protocol.md, "Errors"). A real
 * WorkerBridge behind a real Bun.serve talks over a real Unix socket to a peer written here,
 * which answers requests with seeded random and malformed frames; every request must get an
 * answer, the connection must stay up, and a good request must still be served afterwards.
 * Only a broken framing (a length past MAX_PAYLOAD, an unknown type) may close the connection.
 *
 * Reproduce a failure with FUZZ_SEED=<seed> (printed on failure).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Server, Socket, UnixSocketListener } from "bun";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WorkerBridge } from "../../src/_bridge.ts";
import {
  FLAG_BINARY,
  FLAG_END,
  FrameDecoder,
  FrameType,
  MAX_PAYLOAD,
  ProtocolError,
  decodeFields,
  encodeFrame,
  encodeResponse,
} from "../../src/_protocol.ts";

const SEED = Number(process.env.FUZZ_SEED ?? 20261202);
const ROUNDS = 300;

/** mulberry32: a small seeded PRNG, so a failing run can be replayed. */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const enc = new TextEncoder();
const u32 = (n: number) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n >>> 0, true);
  return b;
};
const bytes = (rand: () => number, n: number) => Uint8Array.from({ length: n }, () => Math.floor(rand() * 256));
const head = (status: string, pairs: string[], body = new Uint8Array(0)) => {
  const text = enc.encode([status, ...pairs].join("\0"));
  const out = new Uint8Array(4 + text.length + body.length);
  out.set(u32(text.length));
  out.set(text, 4);
  out.set(body, 4 + text.length);
  return out;
};

/** Frame types the worker may send on a request connection. */
const WORKER_TYPES = [
  FrameType.RESPONSE,
  FrameType.RESPONSE_BODY,
  FrameType.RESPONSE_ABORT,
  FrameType.REQUEST_ACK,
  FrameType.RESPONSE_FILE,
  FrameType.WS_ACCEPT,
  FrameType.WS_SEND,
  FrameType.WS_END,
  FrameType.WS_MESSAGE_ACK,
  FrameType.READY,
  FrameType.STOPPED,
];

/**
 * What the peer answers a fuzzed stream with: a list of frames (type, flags, payload). Each
 * case is something a buggy or hostile worker could send; most end with a good response,
 * which the bridge must ignore if it already failed the stream.
 */
function fuzzFrames(rand: () => number, id: number): [number, number, number, Uint8Array][] {
  const ok = encodeResponse(200, [["content-type", "text/plain"]], enc.encode("late"));
  const pick = <T,>(xs: T[]) => xs[Math.floor(rand() * xs.length)]!;
  const good: [number, number, number, Uint8Array] = [FrameType.RESPONSE, FLAG_END, id, ok];
  switch (Math.floor(rand() * 16)) {
    case 0: // random RESPONSE payload
      return [[FrameType.RESPONSE, rand() < 0.5 ? FLAG_END : 0, id, bytes(rand, Math.floor(rand() * 64))], good];
    case 1: // header names and values Bun's Headers refuse
      return [[FrameType.RESPONSE, FLAG_END, id, head("200", [pick(["bad name", "a:b", "", "x\u0100", "(x)"]), "v"])], good];
    case 2:
      return [[FrameType.RESPONSE, FLAG_END, id, head("200", ["x-a", pick(["a\rb", "a\nb", "\u0100"])])], good];
    case 3: // statuses out of range, or not a number
      return [[FrameType.RESPONSE, pick([FLAG_END, 0]), id, head(pick(["99", "1000", "600", "101", "abc", "", "2e2"]), [])], good];
    case 4: // head length past the payload, odd field count
      return [[FrameType.RESPONSE, FLAG_END, id, pick([u32(1000), head("200", ["x-only-name"]), new Uint8Array(2)])], good];
    case 5: // acks of the wrong size
      return [[FrameType.REQUEST_ACK, 0, id, bytes(rand, pick([0, 1, 3, 5, 8]))], good];
    case 6: // a body before the head (ignored), then the response
      return [[FrameType.RESPONSE_BODY, 0, id, bytes(rand, 10)], good];
    case 7: // file responses that cannot be sent
      return [[FrameType.RESPONSE_FILE, FLAG_END, id, head("200", [], enc.encode(pick(["", "/nonexistent/x", "/etc\0x", "/etc/hostname\0" + "5\0" + "2", "/etc/hostname\0-1\0" + "3"])))]];
    case 8: // a file response with a header Bun refuses
      return [[FrameType.RESPONSE_FILE, FLAG_END, id, head("200", ["bad name", "v"], enc.encode("/etc/hostname"))]];
    case 9: // websocket frames on an HTTP stream
      return [[pick([FrameType.WS_ACCEPT, FrameType.WS_SEND, FrameType.WS_END, FrameType.WS_MESSAGE_ACK]), pick([0, FLAG_END, FLAG_BINARY]), id, bytes(rand, Math.floor(rand() * 8))], good];
    case 10: // frames for streams that do not exist, and for the connection itself
      return [[pick(WORKER_TYPES), pick([0, FLAG_END]), pick([0, id + 100000, 0xffffffff]), bytes(rand, Math.floor(rand() * 32))], good];
    case 11: // the app's content-length is not a length
      return [[FrameType.RESPONSE, pick([0, FLAG_END]), id, head("200", ["content-length", pick(["abc", "-1", "1, 2", "", "0x10"])])], good];
    case 12: // a streamed body longer than declared
      return [
        [FrameType.RESPONSE, 0, id, head("200", ["content-length", "4"], enc.encode("ab"))],
        [FrameType.RESPONSE_BODY, FLAG_END, id, enc.encode("cdef")],
      ];
    case 13: // a second head after the first
      return [[FrameType.RESPONSE, 0, id, head("200", [], enc.encode("a"))], [FrameType.RESPONSE, FLAG_END, id, ok], [FrameType.RESPONSE_BODY, FLAG_END, id, new Uint8Array(0)]];
    case 14: // an abort after a held head
      return [[FrameType.RESPONSE, 0, id, head("200", ["content-length", "10"], enc.encode("abc"))], [FrameType.RESPONSE_ABORT, 0, id, new Uint8Array(0)]];
    default: // a random frame of a known type, then the response
      return [[pick(WORKER_TYPES), Math.floor(rand() * 4), id, bytes(rand, Math.floor(rand() * 48))], good];
  }
}

interface Peer {
  listener: UnixSocketListener<undefined>;
  sockets: Socket<undefined>[];
  /** Raw bytes to send before the next answer (a corrupt length prefix). */
  poison: Uint8Array | null;
}

function startPeer(path: string, rand: () => number): Peer {
  const peer: Peer = { listener: null!, sockets: [], poison: null };
  peer.listener = Bun.listen<undefined>({
    unix: path,
    socket: {
      open(sock) {
        peer.sockets.push(sock);
        const decoder = new FrameDecoder((type, _flags, id, payload) => {
          if (type !== FrameType.REQUEST) return; // bodies, acks, disconnects: nothing to answer
          const target = decodeFields(payload)[5]!;
          if (peer.poison) {
            sock.write(peer.poison);
            peer.poison = null;
            return;
          }
          const frames: [number, number, number, Uint8Array][] = target.startsWith("/fuzz")
            ? fuzzFrames(rand, id)
            : [[FrameType.RESPONSE, FLAG_END, id, encodeResponse(200, [["content-length", "2"]], enc.encode("ok"))]];
          // Written in random splits: the decoder must gather frames across reads.
          const all = Buffer.concat(frames.map(([t, f, s, p]) => encodeFrame(t, f, s, p)));
          for (let off = 0; off < all.length; ) {
            const n = 1 + Math.floor(rand() * all.length);
            sock.write(all.subarray(off, off + n));
            off += n;
          }
        });
        (sock as unknown as { decoder: FrameDecoder }).decoder = decoder;
      },
      data(sock, chunk) {
        (sock as unknown as { decoder: FrameDecoder }).decoder.push(chunk);
      },
    },
  });
  return peer;
}

describe("the bridge survives malformed frames", () => {
  const dir = mkdtempSync(join(tmpdir(), "granian-ts-fuzz-"));
  const rand = rng(SEED);
  let peer: Peer;
  let bridge: WorkerBridge;
  let server: Server<unknown>;
  let closed: Error | undefined | null = null;

  beforeAll(async () => {
    peer = startPeer(join(dir, "worker.sock"), rand);
    bridge = new WorkerBridge({
      socketPath: join(dir, "worker.sock"),
      scheme: "http",
      http: "auto",
      backpressure: 64,
      websocket: true,
      onClose: (err) => (closed = err),
    });
    await bridge.connect();
    server = Bun.serve({ port: 0, fetch: (req, srv) => bridge.handle(req, srv) });
  });

  afterAll(() => {
    server.stop(true);
    bridge.close();
    peer.listener.stop(true);
    rmSync(dir, { recursive: true, force: true });
  });

  const get = async (path: string) => {
    const r = await fetch(`http://127.0.0.1:${server.port}${path}`);
    try {
      return { status: r.status, body: await r.text() };
    } catch {
      return { status: r.status, body: null }; // a cut response
    }
  };

  test(`${ROUNDS} fuzzed streams each get an answer; the connection stays up (seed ${SEED})`, async () => {
    const statuses = new Map<number, number>();
    for (let round = 0; round < ROUNDS; round += 4) {
      // Several streams at once, so their frames interleave on the connection.
      const batch = await Promise.all([0, 1, 2, 3].map((i) => get(`/fuzz?${round + i}`).catch(() => ({ status: 0, body: null }))));
      for (const r of batch) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      expect(bridge.connected, `seed ${SEED}, round ${round}`).toBe(true);
      expect(closed).toBe(null);
    }
    // Both outcomes occur: streams failed alone (502, 404 for a missing file) and good answers.
    expect(statuses.get(502) ?? 0).toBeGreaterThan(0);
    expect(statuses.get(200) ?? 0).toBeGreaterThan(0);
    expect(await get("/ok")).toEqual({ status: 200, body: "ok" });
    expect(bridge.inFlight).toBe(0);
  });

  test("a corrupt length prefix is the one thing that closes the connection", async () => {
    const bad = new Uint8Array(12);
    new DataView(bad.buffer).setUint32(0, MAX_PAYLOAD + 1, true);
    bad[4] = FrameType.RESPONSE;
    peer.poison = bad;
    const r = await get("/poisoned");
    expect(r.status).toBe(502);
    expect(closed).toBeInstanceOf(ProtocolError);
    expect(bridge.connected).toBe(false);
  });
});

test("the decoder meets random bytes with frames or a ProtocolError, nothing else", () => {
  const rand = rng(SEED + 1);
  for (let round = 0; round < 2000; round++) {
    const decoder = new FrameDecoder(() => {});
    try {
      for (let i = 0; i < 4; i++) decoder.push(bytes(rand, Math.floor(rand() * 64)));
    } catch (err) {
      expect(err, `seed ${SEED + 1}, round ${round}`).toBeInstanceOf(ProtocolError);
    }
  }
});
