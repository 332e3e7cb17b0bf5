/**
 * The contract: the public options and the server handle. `src/server.ts` implements it.
 */
import type { GranianOptions } from "./options.ts";
export type { GranianOptions, ResolvedOptions, OptionName } from "./options.ts";
import type { HTTPConfig } from "./_http.ts";
import type { TLSConfig } from "./tls.ts";
import type { UDSConfig } from "./_uds.ts";

/** Where and how the listeners serve: each part resolved by its unit, once (src/server.ts). */
export interface ListenConfig {
  http: HTTPConfig;
  tls: TLSConfig | null;
  uds: UDSConfig | null;
}

/** What the TS side knows about an application interface (python/granian_ts/interfaces has the rest). */
export interface InterfaceSpec {
  /** The name on the CLI and in the API, passed on to the Python worker. */
  readonly name: string;
  /** Whether the worker runs the app's lifespan protocol. */
  readonly lifespan: boolean;
}

/** A running server, as `new Granian(options)` gives it. */
export interface ServerHandle {
  /** Resolves once every listener accepts requests. */
  serve(): Promise<void>;
  /** Stop accepting, let in-flight requests finish (bounded), run lifespan shutdown, stop the workers. */
  stop(): Promise<void>;
  /** Rolling restart: replace the workers one at a time without dropping a request (SIGHUP). */
  reload(): Promise<boolean>;
  /** The bound port (useful with port 0). */
  readonly port: number;
  /** Resolves when the server has stopped, however that happened. */
  readonly closed: Promise<void>;
}

/** Messages between the supervisor and a listener thread (src/_listener.ts). */
export type ListenerCommand =
  | { type: "start"; config: ListenerConfig; table: SharedArrayBuffer; slots: number; attach: WorkerAddress[] }
  /** Connect to a worker (started, or replacing one); answered by "attached". */
  | ({ type: "attach" } & WorkerAddress)
  /** Let the slot's requests and websockets finish (bounded), then disconnect; answered by "detached". */
  | { type: "detach"; slot: number; timeoutMs: number }
  | { type: "stop"; timeoutMs: number };

/** A Python worker as the listeners know it: its routing slot and its socket. */
export interface WorkerAddress {
  slot: number;
  socketPath: string;
}

export interface ListenerConfig {
  /** All resolved options, for the units the listener composes (static files, logs, metrics). */
  options: import("./options.ts").ResolvedOptions;
  hostname: string;
  port: number;
  /** Serve on this Unix socket instead of hostname/port (src/_uds.ts). */
  unix: string | null;
  tls: TLSConfig | null;
  http: HTTPConfig;
  backpressure: number;
  backpressureQueue: number;
  backpressureTimeoutMs: number;
  bodyReadTimeoutMs: number;
  accessLog: boolean;
  logLevel: string;
  index: string;
  ws: boolean;
  wsPingInterval: number;
  wsCompression: boolean;
  wsMaxMessageSize: number;
}

export type ListenerEvent =
  | { type: "listening"; port: number }
  | { type: "error"; message: string }
  | { type: "attached"; slot: number; error?: string }
  | { type: "detached"; slot: number }
  | { type: "stopped" }
  | { type: "metrics"; snapshot: import("./metrics/index.ts").Snapshot };

/** Options of a listener or of the supervisor's recycling: the host's `Bun.serve` has the port,
 * TLS and HTTP versions; an embedded handler replaces a dead worker and recycles none. */
type NotEmbedded =
  | "address" | "port" | "runtimeThreads" | "backlog" | "reload" | "accessLog"
  | `http${string}` | `ssl${string}` | `uds${string}` | `respawn${string}`
  | `workersLifetime${string}` | `workersMax${string}` | `rss${string}` | "workersKillTimeout";

/**
 * Options of `createHandler` (src/handler.ts): the server options less `NotEmbedded`.
 * `urlPathPrefix` (Granian's name; `rootPath` still works) is the mount point.
 */
export type HandlerOptions = Omit<GranianOptions, NotEmbedded>;

/** A Python app as a Bun fetch handler, as `createHandler` gives it. */
export interface PythonHandler {
  /** Pass to `Bun.serve({ fetch })`, Hono's `app.mount`, …; give it the server for client addresses and websockets. */
  fetch(req: Request, server?: import("bun").Server<unknown>): Promise<Response> | Response;
  /** Pass to `Bun.serve({ websocket })`: the app's websockets upgrade through the host server. */
  readonly websocket: import("bun").WebSocketHandler<any>;
  /** Close websockets (1001), let in-flight requests finish (bounded by shutdownTimeout), stop the workers. */
  close(): Promise<void>;
}
