/** One request in flight on a worker connection (src/_bridge.ts): its state, both directions. */
import type { WorkerBridge } from "./_bridge.ts";

// Most responses come whole and never queue: no array per request until one streams.
const NONE: Uint8Array[] = Object.freeze([]) as unknown as Uint8Array[];

export class Stream {
  /** Set once the Response was handed to Bun (`resolve` called). */
  started = false;
  /** Set once the stream is over for the worker: it takes no more frames for it. */
  closed = false;
  /** The response head arrived (the app's status and headers are decided). */
  head = false;
  /** The request is HEAD: what Bun sends is only the head, the app's length kept. */
  readonly isHead: boolean;

  // response body, when it streams
  ctrl: ReadableStreamDefaultController<Uint8Array> | null = null;
  /** Chunks not yet pulled by Bun; set when the body starts to stream (src/_response.ts). */
  queue: Uint8Array[] = NONE;
  ended = false;
  waiting: (() => void) | null = null;
  /** The app's content-length (-1: none) and the body bytes it sent so far. */
  declared = -1;
  received = 0;
  /** A declared-length body held whole before answering (see `HOLD_LIMIT` in src/_response.ts). */
  heldBody: Uint8Array[] | null = null;
  status = 200;
  headers: NonNullable<ConstructorParameters<typeof Response>[1]>["headers"] = undefined;
  /** The answer went out without a body (HEAD, 204, 304): body frames are only acknowledged. */
  discard = false;

  /** The idle timer is lifted for this request (`BridgeOptions.hold`). */
  held = false;

  // request body flow control
  unacked = 0;
  resume: (() => void) | null = null;

  constructor(
    private readonly bridge: WorkerBridge,
    readonly id: number,
    private readonly done: (r: Response) => void,
    readonly req: Request,
    readonly client: string,
    readonly t0: number,
  ) {
    this.isHead = req.method === "HEAD";
  }

  resolve(r: Response) {
    // Draining for shutdown: the client must not send another request on this connection.
    if (this.bridge.closing && r) r.headers.set("connection", "close");
    this.done(r);
  }

  /** The request's signal aborted: the client went away. An object listener costs no closure. */
  handleEvent() {
    this.bridge.disconnect(this);
  }
}
