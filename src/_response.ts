/**
 * The response side of a stream: from the worker's RESPONSE / RESPONSE_BODY / RESPONSE_FILE
 * frames to the `Response` handed to Bun — whole, held until complete (to keep the app's
 * content-length), streamed, or cut when the body does not match its length — and the
 * `Response`s the bridge answers with itself.
 */
import { consola } from "./logs/_consola.ts";
import type { AccessLogger } from "./_bridge.ts";
import { NULL_BODY } from "./_content_length.ts";
import { HeadCache } from "./_head_cache.ts";
import { FLAG_END, FrameType, type FrameWriter, decodeFileTarget, decodeResponse } from "./_protocol.ts";
import type { Stream } from "./_stream.ts";

type ResponseBody = ConstructorParameters<typeof Response>[0];
type ResponseHeaders = NonNullable<ConstructorParameters<typeof Response>[1]>["headers"];

// Tagged when used, not at import: a tag takes consola's level as it is when created.
const log = () => consola.withTag("bridge");

/**
 * A response body that arrives in more than one message keeps the app's `content-length` only
 * if Bun gets it whole: Bun strips the header from every stream body and sends it chunked
 * (oven-sh/bun#10507; only its sendfile path writes a length back). A body of declared length
 * up to this size is held until it is complete and then answered as bytes, with that length;
 * a larger one streams chunked, without it (README, "What Bun decides for us").
 */
export const HOLD_LIMIT = 4 * 1024 * 1024;

const TEXT = { "content-type": "text/plain; charset=utf-8" };

export const BAD_GATEWAY = () => new Response("Bad Gateway", { status: 502, headers: TEXT });

export const BAD_REQUEST = () => new Response("Bad Request", { status: 400, headers: { ...TEXT, connection: "close" } });

/** A client that stopped sending its request body (--body-read-timeout). */
export const REQUEST_TIMEOUT = () =>
  new Response("Request Timeout", { status: 408, headers: { ...TEXT, connection: "close" } });

/** What Granian answers when the file of a file response cannot be opened. */
export const FILE_NOT_FOUND = () => new Response("Not found", { status: 404, headers: TEXT });

/**
 * The body of a HEAD answer whose app gave no length. With no body at all Bun would claim
 * `content-length: 0`; an empty stream makes it say `transfer-encoding: chunked`, what a GET
 * of unknown length gets (RFC 9110 §9.3.2: HEAD answers with the GET's header fields).
 */
export const unknownLength = () =>
  new ReadableStream<Uint8Array>(
    {
      // Closed on the first pull, not at start: a stream already closed reads as "no bytes" to Bun.
      pull(c) {
        c.close();
      },
    },
    { highWaterMark: 0 },
  );

/**
 * A body that fails at once: Bun closes the client's connection (a reset, or a chunked body
 * without its last chunk), so a response that cannot be sent as the app declared it never
 * looks complete to the client. The bridge logs why; Bun prints a stream's error unless it
 * is `undefined` (`CUT`), so that is what every cut errors with.
 */
export const cutBody = () =>
  new ReadableStream<Uint8Array>({
    start(c) {
      c.error(CUT);
    },
  });

export const CUT = undefined;

/** `chunks` joined into one buffer of `total` bytes. */
export function concat(chunks: Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

/** What a Responder needs from its connection (src/_bridge.ts `WorkerBridge`). */
export interface ResponseHost {
  readonly writer: FrameWriter;
  readonly connected: boolean;
  readonly accessLog: AccessLogger | undefined;
  /** The stream is over for the worker: no more frames for it. */
  forget(s: Stream): void;
  /** The client went away (or the response is cut): tell the worker, end the stream. */
  disconnect(s: Stream): void;
  /** End the stream now: 502 if unanswered, else its client connection dropped. */
  finish(s: Stream): void;
  /** A frame for `s` could not be honoured: it fails alone. */
  fail(s: Stream, err: unknown): void;
}

export class Responder {
  private readonly heads = new HeadCache();

  constructor(private readonly host: ResponseHost) {}

  onResponse(s: Stream, flags: number, payload: Uint8Array) {
    if (s.head) throw new Error("a second response head");
    const { status, headers, length, body } = this.heads.decode(payload);
    if (length !== length) throw new Error("the app's content-length is not one valid length");
    // Bun sends no body for these: the head alone answers, and body frames are only drained.
    const noBody = s.isHead || NULL_BODY.has(status);
    if (flags & FLAG_END) {
      let data: ResponseBody = null;
      if (noBody) {
        // HEAD: no body lets Bun keep the app's length; bytes make Bun state their length.
        if (s.isHead && length < 0) data = body.length ? body.slice() : unknownLength();
      } else if (length >= 0 && body.length !== length) {
        return this.mismatch(s, status, headers, length, body.length, true);
      } else if (body.length) data = body; // no copy: each socket read is a fresh buffer, and Bun copies the bytes as it builds the Response
      const response = new Response(data, { status, headers });
      s.head = true;
      this.host.accessLog?.(s.req, s.client, status, s.t0, noBody ? 0 : body.length);
      s.started = true;
      s.resolve(response);
      this.host.forget(s);
      return;
    }
    s.declared = length;
    s.received = body.length;
    if (noBody) {
      const response = new Response(s.isHead && length < 0 ? unknownLength() : null, { status, headers });
      s.head = true;
      this.host.accessLog?.(s.req, s.client, status, s.t0, 0);
      s.discard = true;
      s.started = true;
      s.resolve(response);
      if (body.length) this.ack(s, body.length);
      return;
    }
    if (length >= 0 && length <= HOLD_LIMIT) {
      // Built now, so that a status or header Bun refuses fails before any body is held.
      new Response(null, { status, headers });
      s.head = true;
      this.host.accessLog?.(s.req, s.client, status, s.t0, length);
      s.status = status;
      s.headers = headers;
      s.heldBody = body.length ? [body.slice()] : [];
      if (body.length) this.ack(s, body.length);
      if (s.received > length) this.mismatch(s, status, headers, length, s.received, false);
      return;
    }
    // Copied: a view would keep the whole socket read it came in alive while the client reads.
    s.queue = body.length ? [body.slice()] : [];
    const stream = new ReadableStream<Uint8Array>(
      {
        start: (c) => {
          s.ctrl = c;
        },
        pull: (c) => {
          const chunk = s.queue.shift();
          if (chunk) {
            c.enqueue(chunk);
            this.ack(s, chunk.length);
          }
          if (s.queue.length === 0) {
            if (s.ended) return c.close();
            if (!chunk) return new Promise<void>((r) => (s.waiting = r));
          }
        },
        cancel: () => this.host.disconnect(s),
      },
      { highWaterMark: 0 },
    );
    const response = new Response(stream, { status, headers });
    s.head = true;
    this.host.accessLog?.(s.req, s.client, status, s.t0, length);
    s.started = true;
    s.resolve(response);
    if (length >= 0 && s.received > length) this.cut(s, length);
  }

  /**
   * The app's body does not match its content-length: the client gets a cut connection, never
   * a body padded, trimmed or silently short (what uvicorn does too). `ended`: the worker is
   * done with the stream already.
   */
  private mismatch(
    s: Stream,
    status: number,
    headers: ResponseHeaders,
    declared: number,
    got: number,
    ended: boolean,
  ) {
    log().warn(`stream ${s.id}: response body of ${got}${ended ? "" : "+"} bytes for content-length ${declared} (connection cut)`);
    if (!s.head) this.host.accessLog?.(s.req, s.client, status, s.t0, -1);
    s.head = true;
    s.heldBody = null;
    if (!ended && this.host.connected) this.host.writer.bytes(FrameType.DISCONNECT, 0, s.id);
    s.started = true;
    s.resolve(new Response(cutBody(), { status, headers }));
    this.host.forget(s);
  }

  /** A streaming response went past its content-length: cut it, and tell the worker. */
  private cut(s: Stream, declared: number) {
    log().warn(`stream ${s.id}: response body longer than its content-length ${declared} (connection cut)`);
    s.queue = [];
    this.host.disconnect(s);
  }

  /**
   * A response whose body is a file on disk (RSGI `response_file`, ASGI pathsend): Bun sends
   * it itself (sendfile), with the content-length of the file or of the range. The exchange
   * is over for the worker with this frame.
   */
  onFile(s: Stream, payload: Uint8Array) {
    if (s.head) return this.host.finish(s); // a file after the head is a worker bug: drop the client
    s.head = true;
    this.host.forget(s);
    const { status, headers, body } = decodeResponse(payload);
    const { path, start, end } = decodeFileTarget(body);
    const file = Bun.file(path);
    // exists() is false for a directory too, which Bun could not send either.
    file.exists().then(
      (exists) => {
        if (!exists) return this.fileNotFound(s, path);
        const data = NULL_BODY.has(status) ? null : start === undefined ? file : file.slice(start, end);
        let response: Response;
        try {
          response = new Response(data, { status, headers });
        } catch (err) {
          return this.host.fail(s, err);
        }
        this.host.accessLog?.(s.req, s.client, status, s.t0, start === undefined ? file.size : (end ?? file.size) - start);
        s.started = true;
        s.resolve(response);
      },
      () => this.fileNotFound(s, path),
    );
  }

  private fileNotFound(s: Stream, path: string) {
    log().warn(`file response: ${path} is not a file (answered 404)`);
    this.host.accessLog?.(s.req, s.client, 404, s.t0, 9);
    s.started = true;
    s.resolve(FILE_NOT_FOUND());
  }

  onBody(s: Stream, flags: number, payload: Uint8Array) {
    if (!s.head) return; // a body before the head is a worker bug; ignore
    const end = (flags & FLAG_END) !== 0;
    s.received += payload.length;
    if (s.discard) {
      if (payload.length && !end) this.ack(s, payload.length);
      if (end) this.endStream(s);
      return;
    }
    const held = s.heldBody;
    if (held) {
      if (payload.length) held.push(payload.slice());
      if (s.received > s.declared || (end && s.received < s.declared))
        return this.mismatch(s, s.status, s.headers, s.declared, s.received, end);
      if (!end) {
        if (payload.length) this.ack(s, payload.length);
        return;
      }
      s.heldBody = null;
      const response = new Response(s.received ? concat(held, s.received) : null, {
        status: s.status,
        headers: s.headers,
      });
      s.started = true;
      this.endStream(s);
      s.resolve(response);
      return;
    }
    if (s.declared >= 0 && (s.received > s.declared || (end && s.received < s.declared))) {
      log().warn(`stream ${s.id}: response body of ${s.received} bytes for content-length ${s.declared} (connection cut)`);
      s.queue = [];
      if (end) {
        this.endStream(s);
        s.ctrl?.error(CUT);
        s.waiting?.();
      } else this.host.disconnect(s);
      return;
    }
    if (payload.length) s.queue.push(payload.slice());
    if (end) {
      s.ended = true;
      this.endStream(s);
    }
    const w = s.waiting;
    if (w) {
      s.waiting = null;
      const c = s.ctrl!;
      const chunk = s.queue.shift();
      if (chunk) {
        c.enqueue(chunk);
        this.ack(s, chunk.length);
      }
      if (s.ended && s.queue.length === 0) c.close();
      w();
    }
  }

  /** The worker sent the last frame of the stream. */
  private endStream(s: Stream) {
    s.ended = true;
    this.host.forget(s);
  }

  private ack(s: Stream, n: number) {
    // Once the stream is over for Python, acks would only be ignored.
    if (!s.ended && this.host.connected) this.host.writer.u32(FrameType.RESPONSE_ACK, s.id, n);
  }
}
