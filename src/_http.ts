/**
 * `--http auto|1|2` and the HTTP/1 and HTTP/2 tuning options, as Bun.serve options.
 *
 * Bun.serve has handles for the protocols (`http1`, `http2`, `http3`) and one idle timer per
 * connection (`idleTimeout`, whole seconds, at most 255). The HTTP/2 settings Granian exposes
 * (windows, frame and header sizes, stream limits, pings) have no handle in Bun 1.4.5: they
 * are accepted for command-line compatibility and named in one start-up warning each.
 */
import type { Server } from "bun";
import { consola } from "./logs/_consola.ts";
import { OPTIONS, flagOf, type OptionName, type ResolvedOptions } from "./options.ts";

export interface HTTPConfig {
  mode: "auto" | "1" | "2";
  /** Seconds a connection may stay silent: idle keep-alive, or headers sent too slowly. */
  idleTimeout: number;
  keepAlive: boolean;
  http3: boolean;
}

/** Options Bun gives no handle for (README: "accepted, not applied"). */
export const NOT_APPLIED: readonly OptionName[] = [
  "http1PipelineFlush",
  "http2AdaptiveWindow",
  "http2InitialConnectionWindowSize",
  "http2InitialStreamWindowSize",
  "http2KeepAliveInterval",
  "http2KeepAliveTimeout",
  "http2MaxConcurrentStreams",
  "http2MaxFrameSize",
  "http2MaxHeadersSize",
  "http2MaxSendBufferSize",
];

/** Resolve once at start-up; warns (one line each) about options given that Bun cannot apply. */
export function resolveHTTP(o: ResolvedOptions, warn = true): HTTPConfig {
  if (warn) {
    const log = consola.withTag("granian-ts");
    for (const name of NOT_APPLIED)
      if (o[name] !== OPTIONS[name].default)
        log.warn(`--${flagOf(name)} is accepted but not applied: Bun.serve has no setting for it`);
  }
  return {
    mode: o.http as HTTPConfig["mode"],
    // Bun's timer counts seconds (1..255); a header timeout never rounds down to "no timeout".
    idleTimeout: Math.min(255, Math.max(1, Math.ceil(o.http1HeaderReadTimeout / 1000))),
    keepAlive: o.http1KeepAlive,
    http3: o.http3,
  };
}

/** The protocol and timer options of Bun.serve. */
export function serveHTTP(h: HTTPConfig) {
  return {
    http1: h.mode !== "2",
    http2: h.mode !== "1",
    idleTimeout: h.idleTimeout,
  };
}

type Fetch = (req: Request, srv: Server<unknown>) => Response | Promise<Response>;

/**
 * `--no-http1-keep-alive`: every response says `connection: close`, so Bun closes the HTTP/1
 * connection after it (over HTTP/2 Bun drops the header: the connection carries many streams).
 * Only composed in when the option is off, so keep-alive costs nothing.
 */
export function closingConnections(fetch: Fetch): Fetch {
  const close = (r: Response) => {
    r?.headers.set("connection", "close"); // undefined: an upgraded websocket
    return r;
  };
  return (req, srv) => {
    const r = fetch(req, srv);
    return r instanceof Promise ? r.then(close) : close(r);
  };
}
