/**
 * The hot path: one Unix-socket connection from a Bun listener thread to its Python worker,
 * carrying many requests as streams (docs/protocol.md). `handle` turns a Bun `Request` into
 * frames and resolves with the `Response` the worker frames back.
 *
 * Per request it does one header walk, one string build, one `encodeInto` into the shared
 * write buffer, and no syscall of its own: frames go out in one write per event-loop turn.
 */
import type { Server, Socket } from "bun";
import { consola } from "consola";
import {
  FLAG_END,
  FrameDecoder,
  FrameType,
  FrameWriter,
  MAX_CHUNK,
  WINDOW,
  decodeFileTarget,
  decodeResponse,
} from "./_protocol.ts";
import { WsSession, upgrade } from "./_websocket.ts";

/**
 * The HTTP version of a request on a port serving both HTTP/1.1 and HTTP/2 (Bun has no
 * accessor), from the header walk the head needs anyway. Bun builds an HTTP/2 request's
 * headers from the HPACK list and appends `host`, made from `:authority`, last
 * (packages/bun-uws/src/Http2Request.h, forEachHeader); an HTTP/1 request keeps the client's
 * order, and every HTTP/1.1 client sends Host (Bun answers 400 without it), first as a rule.
 * So: `host` last after other headers is HTTP/2; no `host` at all is HTTP/1.0 (`--http 2`
 * serves nothing but HTTP/2, `--http 1` nothing but HTTP/1). An HTTP/1.1
 * client that sends Host last, after other headers, reads as "2"; an HTTP/1.0 one that sends
 * Host reads as "1.1"; an HTTP/2 client that sends nothing but `:authority` reads as "1.1".
 */
export function versionOf(http: "auto" | "1" | "2", hasHost: boolean, last: string, count: number): string {
  if (http === "2") return "2";
  if (!hasHost) return "1.0";
  return http === "auto" && last === "host" && count > 1 ? "2" : "1.1";
}

/** Statuses whose responses must not carry a body (Fetch's "null body status"). */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

const BAD_GATEWAY = () =>
  new Response("Bad Gateway", { status: 502, headers: { "content-type": "text/plain; charset=utf-8" } });

/** What Granian answers when the file of a file response cannot be opened. */
const FILE_NOT_FOUND = () =>
  new Response("Not found", { status: 404, headers: { "content-type": "text/plain; charset=utf-8" } });

/** Told about every response (src/logs/): `started` is performance.now() at arrival, `size` -1 when not known. */
export interface AccessLogger {
  (req: Request, client: string, status: number, started: number, size: number): void;
}

/** Bodies up to this size (by content-length) are read whole rather than streamed. */
const SMALL_BODY = 64 * 1024;

/** How long a request runs before it watches its abort signal (see `watchAbort`). */
const ABORT_SWEEP_MS = 10;

/** One request in flight; it is also the listener for its request's abort signal. */
class Stream {
  /** Set once the response head arrived (and the Response was handed to Bun). */
  started = false;
  /** Set once the stream is over for Bun: it takes no more frames for it. */
  closed = false;
  // response body, when it streams
  ctrl: ReadableStreamDefaultController<Uint8Array> | null = null;
  queue: Uint8Array[] = [];
  ended = false;
  waiting: (() => void) | null = null;
  // request body flow control
  unacked = 0;
  resume: (() => void) | null = null;
  /** The idle timer is lifted for this request (`BridgeOptions.hold`). */
  held = false;

  constructor(
    private readonly bridge: WorkerBridge,
    readonly id: number,
    readonly resolve: (r: Response) => void,
    readonly req: Request,
    readonly client: string,
    readonly t0: number,
  ) {}

  /** The request's signal aborted: the client went away. An object listener costs no closure. */
  handleEvent() {
    this.bridge.disconnect(this);
  }
}

export interface BridgeOptions {
  socketPath: string;
  scheme: "http" | "https";
  /** `--http`: "2" serves only HTTP/2; with "auto" and "1" the version is told per request (`versionOf`). */
  http: "auto" | "1" | "2";
  /** A request still running after the abort sweep: lift the connection's idle timer (src/_http.ts). */
  hold?: (req: Request) => void;
  /** A held request is over: the idle timer applies again. */
  unhold?: (req: Request) => void;
  /** Requests at once before more wait in Bun (--backpressure). */
  backpressure: number;
  /** Serve websockets (--ws): upgrade requests open WS_OPEN streams. */
  websocket: boolean;
  accessLog?: AccessLogger;
  onClose?: (error?: Error) => void;
}

export class WorkerBridge {
  private socket: Socket | null = null;
  private readonly streams = new Map<number, Stream>();
  private nextId = 1;
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly writer: FrameWriter;
  private readonly decoder: FrameDecoder;
  private idle: (() => void) | null = null;
  /** Streams opened since the last abort sweep. */
  private young: Stream[] = [];
  /** Accepted websockets, by stream id (src/_websocket.ts). */
  private readonly sessions = new Map<number, WsSession>();
  /** The server of the last upgrade request: the one to upgrade it with. */
  private server: Server<unknown> | null = null;

  constructor(private readonly opts: BridgeOptions) {
    this.writer = new FrameWriter((data) => (this.socket ? this.socket.write(data) : 0));
    this.decoder = new FrameDecoder(this.onFrame);
  }

  get connected() {
    return this.socket !== null;
  }

  get inFlight() {
    return this.streams.size;
  }

  /** Requests waiting for a slot (--backpressure), and open websockets: for metrics. */
  get queueLength() {
    return this.waiting.length;
  }

  get websockets() {
    return this.sessions.size;
  }

  /** Resolves when no request is in flight. */
  drained(): Promise<void> {
    if (this.streams.size === 0 && this.waiting.length === 0) return Promise.resolve();
    return new Promise((r) => (this.idle = r));
  }

  async connect(): Promise<void> {
    this.socket = await Bun.connect({
      unix: this.opts.socketPath,
      socket: {
        data: (_s, chunk) => {
          try {
            this.decoder.push(chunk);
          } catch (err) {
            this.close(err as Error);
          }
        },
        drain: () => this.writer.flushNow(),
        close: () => this.close(),
        error: (_s, err) => this.close(err),
      },
    });
  }

  /** The connection is gone: requests not yet answered get 502, started ones are dropped. */
  close(error?: Error) {
    if (!this.socket) return;
    const socket = this.socket;
    this.socket = null;
    socket.end();
    for (const s of this.streams.values()) this.finish(s, 502);
    this.streams.clear();
    this.closeWebsockets(1011, "worker connection lost");
    this.writer.length = 0;
    this.opts.onClose?.(error);
  }

  /** End every websocket, telling both the client and the app `code` (shutdown: 1001). */
  closeWebsockets(code: number, reason: string) {
    for (const w of [...this.sessions.values()]) w.shutdown(code, reason);
  }

  handle(req: Request, server: Server<unknown>): Promise<Response> | Response {
    if (!this.socket) return BAD_GATEWAY();
    if (this.active >= this.opts.backpressure) return this.queued(req, server);
    this.active++;
    const id = this.nextId;
    this.nextId = id === 0xffffffff ? 1 : id + 1;

    const url = req.url;
    // req.url is absolute ("http://host/path?query"): the path starts at the first "/" after "//".
    const p = url.indexOf("/", url.indexOf("//") + 2);
    const q = url.indexOf("?", p);
    const ip = server.requestIP(req);
    let host = "";
    let port = "0";
    if (ip) {
      host = ip.address.startsWith("::ffff:") ? ip.address.slice(7) : ip.address;
      port = String(ip.port);
    }
    // toJSON() + for..in is the cheapest header walk in Bun (bench/codec.bench.ts); Bun has
    // already merged repeated request headers, so nothing is lost.
    const headers = req.headers.toJSON();
    let fields = "";
    let length = -1;
    let upgradeTo: string | undefined;
    let count = 0;
    let last = "";
    let hasHost = false;
    for (const name in headers) {
      const value = headers[name]!;
      fields += "\0" + name + "\0" + value;
      count++;
      last = name;
      if (name === "content-length") length = Number(value);
      else if (name === "transfer-encoding") length = Infinity;
      else if (name === "upgrade") upgradeTo = value;
      else if (name === "host") hasHost = true;
    }
    const version = versionOf(this.opts.http, hasHost, last, count);
    let head =
      req.method + "\0" + this.opts.scheme + "\0" + version + "\0" + host + "\0" + port + "\0" +
      (p < 0 ? "/" : q < 0 ? url.slice(p) : url.slice(p, q) + "\0" + url.slice(q + 1));
    if (q < 0) head += "\0";
    head += fields;
    if (upgradeTo !== undefined && this.opts.websocket && upgradeTo.toLowerCase() === "websocket") {
      this.server = server;
      this.writer.text(FrameType.WS_OPEN, 0, id, head);
      return new Promise<Response>((resolve) => {
        const s = new Stream(this, id, resolve, req, host, this.opts.accessLog ? performance.now() : 0);
        this.streams.set(id, s);
        this.watchAbort(s);
      });
    }
    const hasBody = length > 0;
    this.writer.text(FrameType.REQUEST, hasBody ? 0 : FLAG_END, id, head);

    return new Promise<Response>((resolve) => {
      const s = new Stream(this, id, resolve, req, host, this.opts.accessLog ? performance.now() : 0);
      this.streams.set(id, s);
      this.watchAbort(s);
      if (!hasBody) return;
      // A small body of known size is read whole by Bun in one step; larger ones stream.
      if (length <= SMALL_BODY) this.sendSmallBody(s, req);
      else this.pump(s, req.body!);
    });
  }

  /**
   * The client going away must reach the app (http.disconnect) even before it responds. Most
   * requests are answered within milliseconds, so the abort listener is attached by a sweep a
   * few milliseconds later, to the requests still open: Bun keeps `signal.aborted` for a
   * signal first touched after the fact, and fast requests never pay for the signal at all.
   */
  private watchAbort(s: Stream) {
    this.young.push(s);
    if (this.young.length === 1) setTimeout(this.sweep, ABORT_SWEEP_MS);
  }

  private sweep = () => {
    const young = this.young;
    this.young = [];
    for (const s of young) {
      if (s.closed) continue;
      const signal = s.req.signal;
      if (signal.aborted) {
        this.disconnect(s);
        continue;
      }
      signal.addEventListener("abort", s, { once: true });
      if (this.opts.hold) {
        this.opts.hold(s.req);
        s.held = true;
      }
    }
  };

  private async sendSmallBody(s: Stream, req: Request) {
    try {
      const body = await req.bytes();
      if (s.closed) return;
      s.unacked += body.length;
      this.writer.bytes(FrameType.REQUEST_BODY, FLAG_END, s.id, body);
    } catch {
      this.disconnect(s);
    }
  }

  private async queued(req: Request, server: Server<unknown>): Promise<Response> {
    await new Promise<void>((r) => this.waiting.push(r));
    this.active--; // release() handed its slot over; handle() takes it again
    return this.handle(req, server);
  }

  /** Stream the request body as REQUEST_BODY frames, never more than WINDOW unacknowledged. */
  private async pump(s: Stream, body: ReadableStream<Uint8Array>) {
    const reader = body.getReader();
    try {
      for (;;) {
        if (s.unacked >= WINDOW) await new Promise<void>((r) => (s.resume = r));
        if (s.closed) break;
        const { value, done } = await reader.read();
        if (s.closed) break;
        if (done) {
          this.writer.bytes(FrameType.REQUEST_BODY, FLAG_END, s.id);
          return;
        }
        for (let off = 0; off < value.length; off += MAX_CHUNK) {
          const chunk = value.subarray(off, off + MAX_CHUNK);
          this.writer.bytes(FrameType.REQUEST_BODY, 0, s.id, chunk);
          s.unacked += chunk.length;
        }
      }
      reader.cancel().catch(() => {});
    } catch {
      // The client's body stream failed: the client is gone.
      this.disconnect(s);
    }
  }

  /** The client went away before the response ended. */
  disconnect(s: Stream) {
    if (s.closed) return;
    if (this.socket) this.writer.bytes(FrameType.DISCONNECT, 0, s.id);
    this.finish(s, 499);
  }

  /** The stream is over for Bun. */
  private finish(s: Stream, status?: number) {
    if (s.closed) return;
    s.closed = true;
    if (s.held) this.opts.unhold!(s.req);
    this.streams.delete(s.id);
    s.resume?.();
    if (!s.started) {
      s.started = true;
      s.resolve(BAD_GATEWAY());
      if (status) this.opts.accessLog?.(s.req, s.client, status, s.t0, -1);
    } else if (s.ctrl && !s.ended) {
      s.ended = true;
      s.waiting?.();
      try {
        s.ctrl.error(new Error("response aborted"));
      } catch {}
    }
    this.release();
  }

  /** A request slot frees: hand it to the next queued request, if any. */
  private release() {
    const next = this.waiting.shift();
    if (next) return next();
    this.active--;
    if (this.idle && this.streams.size === 0) {
      this.idle();
      this.idle = null;
    }
  }

  private onFrame = (type: number, flags: number, id: number, payload: Uint8Array) => {
    const s = this.streams.get(id);
    if (!s) {
      const w = this.sessions.get(id);
      // Otherwise it raced with the end of the stream (docs/protocol.md).
      if (w) w.onFrame(type, flags, payload);
      return;
    }
    switch (type) {
      case FrameType.RESPONSE:
        return this.onResponse(s, flags, payload);
      case FrameType.RESPONSE_BODY:
        return this.onBody(s, flags, payload);
      case FrameType.REQUEST_ACK: {
        s.unacked -= new DataView(payload.buffer, payload.byteOffset, 4).getUint32(0, true);
        if (s.resume && s.unacked < WINDOW) {
          const r = s.resume;
          s.resume = null;
          r();
        }
        return;
      }
      case FrameType.RESPONSE_ABORT:
        return this.finish(s);
      case FrameType.RESPONSE_FILE:
        return this.onFile(s, payload);
      case FrameType.WS_ACCEPT:
        return this.onAccept(s, payload);
    }
  };

  /** The app accepted the websocket: upgrade, and the stream lives on as a WsSession. */
  private onAccept(s: Stream, payload: Uint8Array) {
    if (s.started) return this.finish(s);
    const session = new WsSession(this.writer, this.sessions, s.id);
    s.started = true;
    s.closed = true;
    if (s.held) this.opts.unhold!(s.req);
    this.streams.delete(s.id);
    if (upgrade(this.server!, s.req, session, payload)) {
      this.opts.accessLog?.(s.req, s.client, 101, s.t0, 0);
      // Bun ignores what fetch answers an upgraded request; a Response keeps hosts that need one
      // (Hono, Elysia: createHandler) happy.
      s.resolve(new Response(null));
    } else {
      session.end(1006, "upgrade failed");
      s.resolve(BAD_GATEWAY());
    }
    this.release();
  }

  private onResponse(s: Stream, flags: number, payload: Uint8Array) {
    const { status, headers, body } = decodeResponse(payload);
    s.started = true;
    this.opts.accessLog?.(s.req, s.client, status, s.t0, flags & FLAG_END ? body.length : Number((headers as Record<string, string>)["content-length"] ?? -1));
    if (flags & FLAG_END) {
      s.closed = true;
      if (s.held) this.opts.unhold!(s.req);
      this.streams.delete(s.id);
      s.resume?.();
      // Copy: the payload is a view into the socket's read buffer.
      s.resolve(new Response(NULL_BODY.has(status) || body.length === 0 ? null : body.slice(), { status, headers }));
      this.release();
      return;
    }
    if (body.length) s.queue.push(body.slice());
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
        cancel: () => this.disconnect(s),
      },
      { highWaterMark: 0 },
    );
    s.resolve(new Response(NULL_BODY.has(status) ? null : stream, { status, headers }));
  }

  /**
   * A response whose body is a file on disk (RSGI `response_file`, ASGI pathsend): Bun sends
   * it itself (sendfile), with the content-length of the file or of the range. The exchange
   * is over for the worker with this frame.
   */
  private onFile(s: Stream, payload: Uint8Array) {
    if (s.started) return this.finish(s); // a file after the head is a worker bug: drop the client
    const { status, headers, body } = decodeResponse(payload);
    const { path, start, end } = decodeFileTarget(body);
    s.started = true;
    s.closed = true;
    if (s.held) this.opts.unhold!(s.req);
    this.streams.delete(s.id);
    s.resume?.();
    this.release();
    const file = Bun.file(path);
    // exists() is false for a directory too, which Bun could not send either.
    file.exists().then(
      (exists) => {
        if (!exists) return this.fileNotFound(s, path);
        this.opts.accessLog?.(s.req, s.client, status, s.t0, start === undefined ? file.size : (end ?? file.size) - start);
        const data = NULL_BODY.has(status) ? null : start === undefined ? file : file.slice(start, end);
        s.resolve(new Response(data, { status, headers }));
      },
      () => this.fileNotFound(s, path),
    );
  }

  private fileNotFound(s: Stream, path: string) {
    // Tagged here, not at import: the tag takes consola's level as it is when created.
    consola.withTag("bridge").warn(`file response: ${path} is not a file (answered 404)`);
    this.opts.accessLog?.(s.req, s.client, 404, s.t0, 9);
    s.resolve(FILE_NOT_FOUND());
  }

  private onBody(s: Stream, flags: number, payload: Uint8Array) {
    if (!s.ctrl && !s.started) return; // a body before the head is a worker bug; ignore
    if (payload.length) s.queue.push(payload.slice());
    if (flags & FLAG_END) {
      s.ended = true;
      s.closed = true;
      if (s.held) this.opts.unhold!(s.req);
      this.streams.delete(s.id);
      this.release();
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

  private ack(s: Stream, n: number) {
    // Once the stream is over for Python, acks would only be ignored.
    if (!s.ended && this.socket) this.writer.u32(FrameType.RESPONSE_ACK, s.id, n);
  }
}
