/**
 * The hot path: one Unix-socket connection from a Bun listener thread to its Python worker,
 * carrying many requests as streams (docs/protocol.md). `handle` turns a Bun `Request` into
 * frames and resolves with the `Response` the worker frames back.
 *
 * Per request it does one header walk, one string build, one `encodeInto` into the shared
 * write buffer, and no syscall of its own: frames go out in one write per event-loop turn.
 */
import type { Server, Socket } from "bun";
import { consola } from "./logs/_consola.ts";
import type { ProxyResolver } from "./_proxy.ts";
import { parseContentLength } from "./_content_length.ts";
import {
  FLAG_END,
  FrameDecoder,
  FrameType,
  FrameWriter,
  WINDOW,
  decodeU32,
} from "./_protocol.ts";
import { sendBody } from "./_request_body.ts";
import { BAD_GATEWAY, BAD_REQUEST, CUT, REQUEST_TIMEOUT, Responder, cutBody } from "./_response.ts";
import { Stream } from "./_stream.ts";
import { StreamTable } from "./_stream_table.ts";
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
export function versionOf(http: "auto" | "1" | "2" | "3", hasHost: boolean, last: string, count: number): string {
  if (http === "2" || http === "3") return http;
  if (!hasHost) return "1.0";
  return http === "auto" && last === "host" && count > 1 ? "2" : "1.1";
}

/** Told about every response (src/logs/, src/metrics/): `started` is performance.now() at arrival, `size` -1 when not known. */
export interface AccessLogger {
  (req: Request, client: string, status: number, started: number, size: number): void;
}

/** How long a request runs before it watches its abort signal (see `watchAbort`). */
const ABORT_SWEEP_MS = 10;

// Tagged when used, not at import: a tag takes consola's level as it is when created.
const log = () => consola.withTag("bridge");

export interface BridgeOptions {
  socketPath: string;
  scheme: "http" | "https";
  /** `--http`: "2" serves only HTTP/2 ("3": the --http3 listener); with "auto" and "1" the version is told per request (`versionOf`). */
  http: "auto" | "1" | "2" | "3";
  /** A request still running after the abort sweep: lift the connection's idle timer (src/_http.ts). */
  hold?: (req: Request) => void;
  /** A held request is over: the idle timer applies again. */
  unhold?: (req: Request) => void;
  /** Requests at once before more wait in Bun (--backpressure). */
  backpressure: number;
  /** Serve websockets (--ws): upgrade requests open WS_OPEN streams. */
  websocket: boolean;
  accessLog?: AccessLogger;
  /** --proxy-headers: trusted forwarding headers, or undefined (off: nothing is looked at). */
  proxy?: ProxyResolver;
  onClose?: (error?: Error) => void;
  /** A request slot freed (src/_routing.ts counts requests in flight per worker). */
  onRelease?: () => void;
  /** Milliseconds a streamed request body may stall before the request gets 408 (0: never). */
  bodyReadTimeoutMs?: number;
}

export class WorkerBridge {
  private socket: Socket | null = null;
  private readonly streams = new StreamTable<Stream>();
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  readonly writer: FrameWriter;
  private readonly decoder: FrameDecoder;
  private idle: (() => void) | null = null;
  /**
   * Ids of the streams opened since the last abort sweep, and of those opened in the period
   * before it. Ids, not Streams: a stream answered within the period must not be kept alive
   * by the list (see src/_stream_table.ts).
   */
  private young: number[] = [];
  private aging: number[] = [];
  /** Accepted websockets, by stream id (src/_websocket.ts). */
  private readonly sessions = new Map<number, WsSession>();
  /** The server of the last upgrade request: the one to upgrade it with. */
  private server: Server<unknown> | null = null;
  /** Set while the server drains: responses carry `Connection: close` (src/_stream.ts). */
  closing = false;

  private readonly responder = new Responder(this);

  constructor(private readonly opts: BridgeOptions) {
    this.writer = new FrameWriter((data) => (this.socket ? this.socket.write(data) : 0));
    this.decoder = new FrameDecoder(this.onFrame);
  }

  get connected() {
    return this.socket !== null;
  }

  get accessLog() {
    return this.opts.accessLog;
  }

  get inFlight() {
    return this.streams.size;
  }

  /** Accepted websockets still open. */
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

  /** `body`: the whole body, when the caller read it already (a small one, src/_routing.ts). */
  handle(req: Request, server: Server<unknown>, body?: Uint8Array): Promise<Response> | Response {
    return this.open(req, server, body, null)!;
  }

  /**
   * `handle`, answering through `resolve` instead of a promise of its own: a caller already
   * inside a promise Bun waits on (src/_routing.ts, which reads small bodies first) saves
   * one promise per request and the job that chains one promise to another.
   */
  handleWith(resolve: (r: Response | Promise<Response>) => void, req: Request, server: Server<unknown>, body?: Uint8Array) {
    const r = this.open(req, server, body, resolve);
    if (r !== undefined) resolve(r);
  }

  /** What the request is answered with now, or undefined when it went to the worker and `resolve` will be told. */
  private open(
    req: Request,
    server: Server<unknown>,
    body: Uint8Array | undefined,
    resolve: ((r: Response) => void) | null,
  ): Promise<Response> | Response | undefined {
    if (!this.socket) return BAD_GATEWAY();
    if (this.active >= this.opts.backpressure) return this.queued(req, server, body);

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
    // toJSON() + for..in is the cheapest header walk in Bun (bench/codec.bench.ts). Bun has
    // already merged repeated request headers into one "a, b" value, and offers them apart
    // nowhere but for set-cookie (README, "What Bun decides for us").
    const headers = req.headers.toJSON();
    let fields = "";
    let length = -1;
    let chunked = false;
    let trailer = false;
    let upgradeTo: string | undefined;
    let count = 0;
    let last = "";
    let hasHost = false;
    for (const name in headers) {
      const value = headers[name]!;
      // Only set-cookie comes as an array (Bun keeps its values apart): one pair each.
      if (typeof value === "string") fields += "\0" + name + "\0" + value;
      else for (const v of value as unknown as string[]) fields += "\0" + name + "\0" + v;
      count++;
      last = name;
      if (name === "content-length") length = parseContentLength(value);
      else if (name === "transfer-encoding") chunked = true;
      else if (name === "upgrade") upgradeTo = value;
      else if (name === "host") hasHost = true;
      else if (name === "trailer") trailer = true;
    }
    // Bun's parser already refuses differing lengths; a value it let through that is still not
    // one length (RFC 9110 §8.6) must not be read as "no body". Bun reads no trailer section
    // (src/_request_body.ts): a chunked request that announces one (RFC 9110 §6.6.2) is refused
    // before the app sees a body the client will be told was refused.
    if (length !== length || (chunked && trailer)) return BAD_REQUEST();
    if (chunked) length = Infinity;
    const version = versionOf(this.opts.http, hasHost, last, count);
    let scheme = this.opts.scheme;
    if (this.opts.proxy !== undefined) {
      // --proxy-headers (src/_proxy.ts): a trusted proxy's word on the client, scheme and host.
      const f = this.opts.proxy(headers as Record<string, string>, host);
      if (f !== null) {
        if (f.client !== undefined) (host = f.client), (port = f.port);
        if (f.scheme !== undefined) scheme = f.scheme;
        if (f.host !== undefined)
          fields = hasHost ? fields.replace("\0host\0" + headers.host, "\0host\0" + f.host) : fields + "\0host\0" + f.host;
      }
    }
    let head =
      req.method + "\0" + scheme + "\0" + version + "\0" + host + "\0" + port + "\0" +
      (p < 0 ? "/" : q < 0 ? url.slice(p) : url.slice(p, q) + "\0" + url.slice(q + 1));
    if (q < 0) head += "\0";
    head += fields;

    this.active++;
    const id = this.streams.nextId();
    if (upgradeTo !== undefined && this.opts.websocket && upgradeTo.toLowerCase() === "websocket") {
      this.server = server;
      this.writer.text(FrameType.WS_OPEN, 0, id, head);
      length = 0; // the stream carries websocket messages, not a body
    } else {
      // On HTTP/2 a body needs neither content-length nor transfer-encoding: without a length,
      // Bun's `req.body` (null when the request has none, on either protocol) decides.
      if (length === -1 && req.body !== null) length = Infinity;
      this.writer.text(FrameType.REQUEST, length > 0 ? 0 : FLAG_END, id, head);
    }
    if (resolve !== null) return this.start(resolve, id, req, host, length, chunked, body);
    return new Promise<Response>((r) => this.start(r, id, req, host, length, chunked, body));
  }

  /** The stream of a request whose head went out: answered through `resolve`; its body follows. */
  private start(
    resolve: (r: Response) => void,
    id: number,
    req: Request,
    host: string,
    length: number,
    chunked: boolean,
    body: Uint8Array | undefined,
  ): undefined {
    const s = new Stream(this, id, resolve, req, host, this.opts.accessLog ? performance.now() : 0);
    this.streams.set(s);
    this.watchAbort(s);
    if (length <= 0) return;
    if (body) {
      // Read before routing (src/_routing.ts): it goes out whole.
      s.unacked += body.length;
      this.writer.bytes(FrameType.REQUEST_BODY, FLAG_END, s.id, body);
    } else sendBody(s, req, length, chunked, this.writer, this.gone, this.opts.bodyReadTimeoutMs ?? 0, this.stalled);
  }

  /**
   * The client going away must reach the app (http.disconnect) even before it responds. Most
   * requests are answered within milliseconds, so the abort listener is attached only to the
   * requests still open after a full sweep period: each sweep watches the streams opened in
   * the period before the last one (10-20 ms old), so a request answered in its first 10 ms
   * never touches its signal, whenever in the period it came. Bun keeps `signal.aborted` for
   * a signal first touched after the fact.
   */
  private watchAbort(s: Stream) {
    // The timer runs while either list holds streams: the first into both empty lists starts it.
    if (this.young.push(s.id) === 1 && this.aging.length === 0) setTimeout(this.sweep, ABORT_SWEEP_MS);
  }

  private sweep = () => {
    const old = this.aging;
    this.aging = this.young;
    this.young = [];
    for (const id of old) {
      const s = this.streams.get(id);
      // Gone from the table: answered (or upgraded) within the period.
      if (s === undefined || s.closed) continue;
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
    if (this.aging.length > 0) setTimeout(this.sweep, ABORT_SWEEP_MS);
  };

  private gone = (s: Stream) => this.disconnect(s);

  /** The client stopped sending its body: 408 if unanswered, the app gets a disconnect, the slot frees. */
  private stalled = (s: Stream) => {
    if (!s.started) {
      s.started = true;
      s.resolve(REQUEST_TIMEOUT());
      this.opts.accessLog?.(s.req, s.client, 408, s.t0, 0);
    }
    this.disconnect(s);
  };

  /** `body`: read already before routing (src/_routing.ts); Bun gives a body to one reader only. */
  private async queued(req: Request, server: Server<unknown>, body?: Uint8Array): Promise<Response> {
    await new Promise<void>((r) => this.waiting.push(r));
    this.active--; // release() handed its slot over; handle() takes it again
    return this.handle(req, server, body);
  }

  /** The client went away before the response ended. */
  disconnect(s: Stream) {
    if (s.closed) return;
    if (this.socket) this.writer.bytes(FrameType.DISCONNECT, 0, s.id);
    this.finish(s, 499);
  }

  /** The stream is over for the worker. Unanswered, it gets 502 (a held body the app aborted: a cut). */
  finish(s: Stream, status?: number) {
    if (s.closed) return;
    s.closed = true;
    if (s.held) this.opts.unhold!(s.req);
    this.streams.delete(s.id);
    s.resume?.();
    if (!s.started) {
      s.started = true;
      // The app failed in the middle of a held body: cut, as if it had been streaming.
      if (s.heldBody && status === undefined) s.resolve(new Response(cutBody(), { status: s.status, headers: s.headers }));
      else {
        s.resolve(BAD_GATEWAY());
        if (status && !s.head) this.opts.accessLog?.(s.req, s.client, status, s.t0, -1);
      }
    } else if (s.ctrl && !s.ended) {
      s.ended = true;
      s.waiting?.();
      try {
        s.ctrl.error(CUT);
      } catch {}
    }
    this.release();
  }

  /**
   * A frame for one stream could not be honoured (a malformed payload, a head Bun refuses to
   * build a Response from): that stream alone fails — 502 if nothing was sent, else its client
   * connection is cut — the worker is told to forget it, and the connection goes on.
   */
  fail(s: Stream, err: unknown) {
    log().error(`stream ${s.id}: ${(err as Error)?.message ?? err} (${s.started ? "response cut" : "answered 502"})`);
    if (!s.closed) {
      if (this.socket) this.writer.bytes(FrameType.DISCONNECT, 0, s.id);
      return this.finish(s, 502);
    }
    // Over for the worker already (a file response Bun could not build).
    if (s.started) return;
    s.started = true;
    s.resolve(BAD_GATEWAY());
    this.opts.accessLog?.(s.req, s.client, 502, s.t0, -1);
  }

  /** A slot frees: hand it to the next queued request, if any. */
  private release() {
    const next = this.waiting.shift();
    if (next) return next();
    this.active--;
    this.opts.onRelease?.();
    if (this.idle && this.streams.size === 0) {
      this.idle();
      this.idle = null;
    }
  }

  /**
   * Frames for a stream. Whatever a frame carries costs at most its stream (see `fail`): only
   * what breaks the framing itself (FrameDecoder: a length past MAX_PAYLOAD, an unknown type)
   * closes the connection (docs/protocol.md, "Errors").
   */
  private onFrame = (type: number, flags: number, id: number, payload: Uint8Array) => {
    const s = this.streams.get(id);
    if (!s) {
      const w = this.sessions.get(id);
      // Otherwise it raced with the end of the stream (docs/protocol.md).
      if (w) {
        try {
          w.onFrame(type, flags, payload);
        } catch (err) {
          log().error(`websocket ${id}: ${(err as Error)?.message ?? err} (closed 1011)`);
          w.shutdown(1011, "protocol error");
        }
      }
      return;
    }
    try {
      switch (type) {
        case FrameType.RESPONSE:
          return this.responder.onResponse(s, flags, payload);
        case FrameType.RESPONSE_BODY:
          return this.responder.onBody(s, flags, payload);
        case FrameType.REQUEST_ACK: {
          s.unacked -= decodeU32(payload);
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
          return this.responder.onFile(s, payload);
        case FrameType.WS_ACCEPT:
          return this.onAccept(s, payload);
      }
    } catch (err) {
      this.fail(s, err);
    }
  };

  /** The app accepted the websocket: upgrade, and the stream lives on as a WsSession. */
  private onAccept(s: Stream, payload: Uint8Array) {
    if (s.head) return this.finish(s);
    const session = new WsSession(this.writer, this.sessions, s.id);
    s.started = true;
    s.closed = true;
    if (s.held) this.opts.unhold!(s.req);
    this.streams.delete(s.id);
    let upgraded = false;
    try {
      upgraded = upgrade(this.server!, s.req, session, payload);
    } catch (err) {
      log().error(`stream ${s.id}: websocket accept refused: ${(err as Error)?.message ?? err} (answered 502)`);
    }
    if (upgraded) {
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

  /** The stream is over for the worker: no more frames for it. */
  forget(s: Stream) {
    s.closed = true;
    if (s.held) this.opts.unhold!(s.req);
    this.streams.delete(s.id);
    s.resume?.();
    this.release();
  }
}
