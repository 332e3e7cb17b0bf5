/**
 * The contract: the public options and the server handle. `src/server.ts` implements it.
 */
export type { GranianOptions, ResolvedOptions, OptionName } from "./options.ts";

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
  /** The bound port (useful with port 0). */
  readonly port: number;
  /** Resolves when the server has stopped, however that happened. */
  readonly closed: Promise<void>;
}

/** Messages between the supervisor and a listener thread (src/_listener.ts). */
export type ListenerCommand =
  | { type: "start"; config: ListenerConfig }
  | { type: "reconnect"; socketPath: string }
  | { type: "stop"; timeoutMs: number };

export interface ListenerConfig {
  /** All resolved options, for the units the listener composes (static files, logs, metrics). */
  options: import("./options.ts").ResolvedOptions;
  socketPath: string;
  hostname: string;
  port: number;
  http: string;
  backpressure: number;
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
  | { type: "disconnected" }
  | { type: "stopped" };
