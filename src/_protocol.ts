/**
 * Codec of the Bun ⇄ Python wire protocol (docs/protocol.md). The mirror image lives in
 * python/granian_ts/protocol.py; both are tested against tests/golden/frames.json.
 */
import { parseContentLength } from "./_content_length.ts";

export const HEADER_SIZE = 12;
export const MAX_PAYLOAD = 16 * 1024 * 1024;
export const MAX_CHUNK = 1024 * 1024;
export const WINDOW = 1024 * 1024;
export const FLAG_END = 1;
/** WS_MESSAGE / WS_SEND: the message is binary (else text, UTF-8). */
export const FLAG_BINARY = 2;

export const enum FrameType {
  // Bun → Python
  REQUEST = 0x01,
  REQUEST_BODY = 0x02,
  DISCONNECT = 0x03,
  RESPONSE_ACK = 0x04,
  WS_OPEN = 0x05,
  WS_MESSAGE = 0x06,
  WS_CLOSE = 0x07,
  WS_ACK = 0x08,
  // Python → Bun
  RESPONSE = 0x11,
  RESPONSE_BODY = 0x12,
  RESPONSE_ABORT = 0x13,
  REQUEST_ACK = 0x14,
  RESPONSE_FILE = 0x15,
  WS_ACCEPT = 0x16,
  WS_SEND = 0x17,
  WS_END = 0x18,
  WS_MESSAGE_ACK = 0x19,
  // control connection
  HELLO = 0x20,
  READY = 0x21,
  STARTUP_FAILED = 0x22,
  STOP = 0x23,
  STOPPED = 0x24,
  STARTING = 0x25,
}

const KNOWN_TYPES = new Set<number>([
  0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x20, 0x21,
  0x22, 0x23, 0x24, 0x25,
]);

export class ProtocolError extends Error {
  override name = "ProtocolError";
}

export interface Frame {
  type: number;
  flags: number;
  stream: number;
  /** A view into the decoder's buffer: valid only until the next `push`; copy what you keep. */
  payload: Uint8Array;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Encode one frame into a fresh buffer (control frames, tests; the hot path uses FrameWriter). */
export function encodeFrame(type: number, flags: number, stream: number, payload: Uint8Array = new Uint8Array(0)) {
  const out = new Uint8Array(HEADER_SIZE + payload.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, payload.length, true);
  out[4] = type;
  out[5] = flags;
  view.setUint32(8, stream, true);
  out.set(payload, HEADER_SIZE);
  return out;
}

/**
 * Incremental frame decoder. `push` takes whatever the socket delivered and calls `onFrame`
 * for each complete frame. Frames held whole by the incoming chunk are decoded in place (no
 * copy); a frame split across reads is gathered into one buffer of its final size, allocated
 * once its header is known, so a 1 MiB body in 64 KiB reads costs one copy, not sixteen.
 */
export class FrameDecoder {
  /** The frame being gathered: HEADER_SIZE bytes until its header is complete, then whole. */
  private partial: Uint8Array | null = null;
  private filled = 0;

  constructor(private readonly onFrame: (type: number, flags: number, stream: number, payload: Uint8Array) => void) {}

  push(chunk: Uint8Array): void {
    let off = 0;
    const len = chunk.length;
    if (this.partial) {
      off = this.gather(chunk);
      if (this.partial) return;
    }
    while (len - off >= HEADER_SIZE) {
      const size = frameSize(chunk, off);
      if (len - off - HEADER_SIZE < size) break;
      const start = off + HEADER_SIZE;
      off = start + size;
      this.onFrame(chunk[start - 8]!, chunk[start - 7]!, readU32(chunk, start - 4), chunk.subarray(start, off));
    }
    if (off < len) {
      this.partial = new Uint8Array(len - off >= HEADER_SIZE ? HEADER_SIZE + frameSize(chunk, off) : HEADER_SIZE);
      this.filled = 0;
      this.gather(chunk.subarray(off));
    }
  }

  /** Copy the start of `chunk` into the partial frame; emit it when complete. Returns bytes used. */
  private gather(chunk: Uint8Array): number {
    let used = 0;
    let buf = this.partial!;
    if (this.filled < HEADER_SIZE) {
      used = Math.min(HEADER_SIZE - this.filled, chunk.length);
      buf.set(chunk.subarray(0, used), this.filled);
      this.filled += used;
      if (this.filled < HEADER_SIZE) return used;
      if (buf.length === HEADER_SIZE) {
        const size = frameSize(buf, 0);
        if (size > 0) {
          const whole = new Uint8Array(HEADER_SIZE + size);
          whole.set(buf);
          this.partial = buf = whole;
        }
      }
    }
    const n = Math.min(buf.length - this.filled, chunk.length - used);
    buf.set(chunk.subarray(used, used + n), this.filled);
    this.filled += n;
    used += n;
    if (this.filled === buf.length) {
      this.partial = null;
      this.onFrame(buf[4]!, buf[5]!, readU32(buf, 8), buf.subarray(HEADER_SIZE));
    }
    return used;
  }

  /** Bytes of an incomplete frame still waiting for the rest. */
  get pending(): number {
    return this.partial ? this.filled : 0;
  }
}

export const readU32 = (b: Uint8Array, at: number) =>
  (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;

/** The payload size of the frame whose header starts at `at`, after checking the header. */
function frameSize(b: Uint8Array, at: number): number {
  const size = readU32(b, at);
  if (size > MAX_PAYLOAD) throw new ProtocolError(`frame payload of ${size} bytes exceeds ${MAX_PAYLOAD}`);
  const type = b[at + 4]!;
  if (!KNOWN_TYPES.has(type)) throw new ProtocolError(`unknown frame type 0x${type.toString(16)}`);
  return size;
}

/**
 * Batches outgoing frames in one growable buffer, flushed once per event-loop turn: one
 * syscall carries every frame produced while handling a batch of requests. Heads are encoded
 * with `encodeInto` straight into the buffer, so a request costs no intermediate allocation.
 */
export class FrameWriter {
  private buf = new Uint8Array(64 * 1024);
  private view = new DataView(this.buf.buffer);
  /** Bytes queued in `buf` (they start at 0). */
  length = 0;
  private scheduled = false;

  /** `write` sends bytes and returns how many went out; the rest waits for `drain`. */
  constructor(private readonly write: (data: Uint8Array) => number) {}

  private reserve(n: number): number {
    const need = this.length + n;
    if (need > this.buf.length) {
      let size = this.buf.length * 2;
      while (size < need) size *= 2;
      const grown = new Uint8Array(size);
      grown.set(this.buf.subarray(0, this.length));
      this.buf = grown;
      this.view = new DataView(grown.buffer);
    }
    this.schedule();
    return this.length;
  }

  private header(at: number, type: number, flags: number, stream: number, size: number) {
    const v = this.view;
    v.setUint32(at, size, true);
    v.setUint32(at + 4, type | (flags << 8), true);
    v.setUint32(at + 8, stream, true);
  }

  /** A frame whose payload is `text` (NUL-joined head): UTF-8 encoded in place. Returns its size. */
  text(type: number, flags: number, stream: number, text: string): number {
    const at = this.reserve(HEADER_SIZE + text.length * 3);
    const { written } = encoder.encodeInto(text, this.buf.subarray(at + HEADER_SIZE));
    this.header(at, type, flags, stream, written);
    this.length = at + HEADER_SIZE + written;
    return written;
  }

  bytes(type: number, flags: number, stream: number, payload?: Uint8Array): void {
    const size = payload ? payload.length : 0;
    const at = this.reserve(HEADER_SIZE + size);
    this.header(at, type, flags, stream, size);
    if (payload) this.buf.set(payload, at + HEADER_SIZE);
    this.length = at + HEADER_SIZE + size;
  }

  u32(type: number, stream: number, value: number): void {
    const at = this.reserve(HEADER_SIZE + 4);
    this.header(at, type, 0, stream, 4);
    this.view.setUint32(at + HEADER_SIZE, value, true);
    this.length = at + HEADER_SIZE + 4;
  }

  private schedule() {
    if (this.scheduled) return;
    this.scheduled = true;
    // setImmediate, not a microtask: every request handled in this event-loop turn shares one write.
    setImmediate(this.flushNow);
  }

  /** Write what is queued; what the socket did not take stays queued for `drain`. */
  flushNow = (): void => {
    this.scheduled = false;
    if (this.length === 0) return;
    const sent = this.write(this.buf.subarray(0, this.length));
    if (sent <= 0) return;
    if (sent < this.length) this.buf.copyWithin(0, sent, this.length);
    this.length -= sent;
  };
}

/** Decode a `u32` payload (REQUEST_ACK, WS_MESSAGE_ACK). */
export function decodeU32(payload: Uint8Array): number {
  if (payload.length !== 4) throw new ProtocolError(`u32 payload of ${payload.length} bytes`);
  return readU32(payload, 0);
}

/** Split a NUL-joined head payload into its fields. */
export const decodeFields = (payload: Uint8Array): string[] => decoder.decode(payload).split("\0");

export interface ResponseHead {
  status: number;
  /**
   * A plain object, or pairs when a name repeats (set-cookie); a `Headers` when it comes from
   * src/_head_cache.ts.
   */
  headers: Record<string, string> | [string, string][] | Headers;
  /** The app's `content-length` (src/_http.ts `parseContentLength`): -1 if none, NaN if invalid. */
  length: number;
  body: Uint8Array;
}

/** Apps spell it as they like (WSGI: "Content-Length"); the length check skips the rest cheaply. */
const isContentLength = (name: string) =>
  name === "content-length" || (name.length === 14 && name.toLowerCase() === "content-length");

/** Decode a RESPONSE payload: u32 head length, the NUL-joined head, then the first body chunk. */
export function decodeResponse(payload: Uint8Array): ResponseHead {
  if (payload.length < 4) throw new ProtocolError("RESPONSE payload shorter than its head length");
  const headLen = readU32(payload, 0);
  if (headLen + 4 > payload.length) throw new ProtocolError("RESPONSE head length exceeds the payload");
  const fields = decoder.decode(payload.subarray(4, 4 + headLen)).split("\0");
  const status = Number(fields[0]);
  if (!Number.isInteger(status) || status < 100 || status > 999 || fields.length % 2 !== 1)
    throw new ProtocolError("RESPONSE head is malformed");
  const n = fields.length;
  let headers: Record<string, string> | [string, string][] = {};
  let declared: string | undefined;
  for (let i = 1; i < n; i += 2) {
    const name = fields[i]!;
    if (name in headers) {
      // A repeated name (set-cookie): pairs, and the length read again over all of them.
      headers = [];
      declared = undefined;
      for (let j = 1; j < n; j += 2) {
        const name = fields[j]!;
        if (isContentLength(name)) declared = declared === undefined ? fields[j + 1]! : declared + ", " + fields[j + 1]!;
        headers.push([name, fields[j + 1]!]);
      }
      break;
    }
    if (isContentLength(name)) declared = fields[i + 1]!;
    headers[name] = fields[i + 1]!;
  }
  return { status, headers, length: parseContentLength(declared), body: payload.subarray(4 + headLen) };
}

export interface FileTarget {
  path: string;
  /** Byte range, `start` inclusive and `end` exclusive; absent for the whole file. */
  start?: number;
  end?: number;
}

/**
 * Decode what follows the head of a RESPONSE_FILE payload (the `body` of `decodeResponse`):
 * the path, or the path, start and end as NUL-joined text.
 */
export function decodeFileTarget(tail: Uint8Array): FileTarget {
  const fields = decoder.decode(tail).split("\0");
  const path = fields[0]!;
  if (!path) throw new ProtocolError("RESPONSE_FILE has no path");
  if (fields.length === 1) return { path };
  const start = Number(fields[1]);
  const end = Number(fields[2]);
  if (fields.length !== 3 || !Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end <= start)
    throw new ProtocolError("RESPONSE_FILE range is malformed");
  return { path, start, end };
}

/** Encode the tail of a RESPONSE_FILE payload (the Python side's job; here for tests and symmetry). */
export function encodeFileTarget({ path, start, end }: FileTarget): Uint8Array {
  return encoder.encode(start === undefined ? path : `${path}\0${start}\0${end}`);
}

/** Encode a RESPONSE payload (the Python side's job; here for tests and symmetry). */
export function encodeResponse(status: number, headers: [string, string][], body: Uint8Array = new Uint8Array(0)) {
  const head = encoder.encode([String(status), ...headers.flat()].join("\0"));
  const out = new Uint8Array(4 + head.length + body.length);
  new DataView(out.buffer).setUint32(0, head.length, true);
  out.set(head, 4);
  out.set(body, 4 + head.length);
  return out;
}

/** A WS_CLOSE / WS_END payload: `u16` close code, then the UTF-8 reason. */
export function encodeClose(code: number, reason = ""): Uint8Array {
  const text = encoder.encode(reason);
  const out = new Uint8Array(2 + text.length);
  out[0] = code & 0xff;
  out[1] = code >> 8;
  out.set(text, 2);
  return out;
}

export function decodeClose(payload: Uint8Array): { code: number; reason: string } {
  if (payload.length < 2) throw new ProtocolError("close payload shorter than its code");
  return { code: payload[0]! | (payload[1]! << 8), reason: decoder.decode(payload.subarray(2)) };
}
