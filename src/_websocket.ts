/**
 * Websockets over the frame protocol (docs/protocol.md, "Websockets"). The bridge opens a
 * websocket stream with WS_OPEN and, when the worker answers WS_ACCEPT, upgrades the request
 * (`server.upgrade`, https://bun.sh/docs/api/websockets) with a `WsSession` as its data; from
 * then on the `websocketHandlers` given to Bun.serve route the socket's events to the session,
 * and the bridge routes the stream's frames to it.
 *
 * Flow control both ways, so a slow reader never makes either side buffer without bound:
 * client messages stop being read (`ws.pause()`) while WINDOW bytes of them wait for the app's
 * WS_MESSAGE_ACK; app messages are acknowledged (WS_ACK) only once Bun's socket took them
 * (`send` returned a size, or at `drain` after it returned -1), and the worker keeps at most
 * WINDOW bytes unacknowledged.
 */
import type { Server, ServerWebSocket, WebSocketHandler } from "bun";
import {
  FLAG_BINARY,
  FLAG_END,
  FrameType,
  MAX_CHUNK,
  WINDOW,
  decodeClose,
  decodeResponse,
  decodeU32,
  encodeClose,
  type FrameWriter,
} from "./_protocol.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Bun reports a client message above `maxPayloadLength` as 1006 with this reason; RFC 6455 §7.4.1 calls it 1009. */
const TOO_BIG = "Received too big message";

export class WsSession {
  ws: ServerWebSocket<WsSession> | null = null;
  /** Over for the worker: no more frames go to it. */
  closed = false;
  /** Client message bytes the app has not acknowledged (WS_MESSAGE_ACK). */
  private unacked = 0;
  /** App message bytes queued by a backpressured `send`: acknowledged at `drain`. */
  private owed = 0;
  /** Fragments of the app message being gathered (WS_SEND without END). */
  private parts: Uint8Array[] = [];
  /** What the app sent or decided before Bun opened the socket. */
  private early: [data: Uint8Array | string, binary: boolean][] | null = [];
  private earlyClose: { code: number; reason: string } | null = null;

  constructor(
    private readonly writer: FrameWriter,
    private readonly sessions: Map<number, WsSession>,
    readonly id: number,
  ) {
    sessions.set(id, this);
  }

  // Bun's socket events (websocketHandlers)

  onOpen(ws: ServerWebSocket<WsSession>) {
    this.ws = ws;
    const early = this.early!;
    this.early = null;
    for (const [data, binary] of early) this.send(data, binary);
    if (this.earlyClose) this.closeSocket(this.earlyClose.code, this.earlyClose.reason);
  }

  onMessage(message: string | Buffer) {
    if (this.closed) return;
    const w = this.writer;
    if (typeof message === "string") {
      if (message.length * 3 <= MAX_CHUNK) {
        // Encoded straight into the write buffer: no intermediate bytes.
        this.unacked += w.text(FrameType.WS_MESSAGE, FLAG_END, this.id, message);
      } else this.fragments(encoder.encode(message), 0);
    } else this.fragments(message, FLAG_BINARY);
    if (this.unacked >= WINDOW && !this.ws!.isPaused) this.ws!.pause();
  }

  private fragments(data: Uint8Array, binary: number) {
    const size = data.length;
    let off = 0;
    do {
      const chunk = data.subarray(off, off + MAX_CHUNK);
      off += MAX_CHUNK;
      this.writer.bytes(FrameType.WS_MESSAGE, binary | (off >= size ? FLAG_END : 0), this.id, chunk);
    } while (off < size);
    this.unacked += size;
  }

  onClose(code: number, reason: string) {
    this.ws = null;
    if (this.closed) return;
    if (code === 1006 && reason === TOO_BIG) code = 1009;
    this.end(code, reason);
  }

  onDrain() {
    if (this.owed && !this.closed) {
      this.writer.u32(FrameType.WS_ACK, this.id, this.owed);
      this.owed = 0;
    }
  }

  // Frames from the worker

  onFrame(type: number, flags: number, payload: Uint8Array) {
    switch (type) {
      case FrameType.WS_SEND:
        return this.onSend(flags, payload);
      case FrameType.WS_MESSAGE_ACK: {
        this.unacked -= decodeU32(payload);
        const ws = this.ws;
        if (ws && this.unacked < WINDOW && ws.isPaused) ws.resume();
        return;
      }
      case FrameType.WS_END: {
        const { code, reason } = decodeClose(payload);
        this.forget();
        if (this.ws) this.closeSocket(code, reason);
        else if (this.early) this.earlyClose = { code, reason };
        return;
      }
    }
  }

  private onSend(flags: number, payload: Uint8Array) {
    let data: Uint8Array;
    if (!(flags & FLAG_END)) {
      this.parts.push(payload.slice()); // a view into the read buffer: copy what waits
      return;
    }
    if (this.parts.length) {
      this.parts.push(payload);
      data = Buffer.concat(this.parts);
      this.parts = [];
    } else data = payload;
    const binary = (flags & FLAG_BINARY) !== 0;
    if (this.early) {
      this.early.push([binary ? data.slice() : decoder.decode(data), binary]);
      return;
    }
    this.send(binary ? data : decoder.decode(data), binary);
  }

  private send(data: Uint8Array | string, binary: boolean) {
    const ws = this.ws;
    if (!ws) return;
    const size = typeof data === "string" ? Buffer.byteLength(data) : data.length;
    const sent = binary ? ws.sendBinary(data as Uint8Array) : ws.sendText(data as string);
    if (this.closed) return;
    // -1: queued behind backpressure, acknowledged at drain; 0: the socket is closing.
    if (sent === -1) this.owed += size;
    else this.writer.u32(FrameType.WS_ACK, this.id, size);
  }

  private closeSocket(code: number, reason: string) {
    const ws = this.ws!;
    try {
      ws.close(code, reason);
    } catch {
      ws.terminate(); // a code Bun refuses to send
    }
  }

  /** The websocket is over for the worker. */
  private forget() {
    this.closed = true;
    if (this.sessions.get(this.id) === this) this.sessions.delete(this.id);
  }

  /** Tell the worker the websocket ended (client close, shutdown, lost worker). */
  end(code: number, reason: string) {
    if (this.closed) return;
    this.forget();
    this.writer.bytes(FrameType.WS_CLOSE, 0, this.id, encodeClose(code, reason));
  }

  /** Close from Bun's side (shutdown, the worker connection lost): the app sees `code` too. */
  shutdown(code: number, reason: string) {
    this.end(code, reason);
    if (this.ws) this.closeSocket(code, reason);
    else this.earlyClose = { code, reason };
  }
}

/**
 * Upgrade `req` for the worker's WS_ACCEPT (a 101 head: the extra headers, the chosen
 * subprotocol as sec-websocket-protocol). Bun allows the upgrade after an await in `fetch`,
 * as long as `fetch` then resolves with `undefined`.
 */
export function upgrade(server: Server<unknown>, req: Request, session: WsSession, payload: Uint8Array): boolean {
  const { headers } = decodeResponse(payload);
  return (server as Server<WsSession>).upgrade(req, { data: session, headers });
}

export interface WebsocketOptions {
  maxMessageSize: number;
  pingInterval: number;
  compression: boolean;
}

/** The `websocket` option of Bun.serve. */
export function websocketHandlers(o: WebsocketOptions): WebSocketHandler<WsSession> {
  return {
    open: (ws) => ws.data.onOpen(ws),
    message: (ws, m) => ws.data.onMessage(m),
    close: (ws, code, reason) => ws.data.onClose(code, reason),
    drain: (ws) => ws.data.onDrain(),
    maxPayloadLength: o.maxMessageSize,
    // Our own flow control (WS_ACK) bounds what waits in Bun; Bun must never drop a message.
    backpressureLimit: 0xffffffff,
    closeOnBackpressureLimit: false,
    // Bun pings an idle socket shortly before idleTimeout, and closes it if the client is silent.
    idleTimeout: o.pingInterval,
    sendPings: o.pingInterval > 0,
    perMessageDeflate: o.compression,
  };
}
