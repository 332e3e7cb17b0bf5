/**
 * `--http3` (experimental): HTTP/3 over QUIC beside the TCP listener. Bun.serve serves it on
 * the same port number over UDP (`http3: true`, https://bun.com/docs/runtime/http/server).
 *
 * It is a second Bun.serve with HTTP/1 off, not `http3: true` on the TCP one, because Bun
 * gives an HTTP/3 request the same shape as an HTTP/2 one (host synthesised last,
 * packages/bun-uws/src/Http3Request.h): only a server of its own, with a bridge of its own,
 * can tell the app `http_version` "3". The TCP responses then advertise it with `alt-svc`,
 * which Bun adds only for its own `http3: true`.
 */
import type { Server } from "bun";
import type { ListenerConfig } from "./types.ts";
import { serveTLS } from "./tls.ts";

type Fetch = (req: Request, srv: Server<unknown>) => Response | Promise<Response>;

/** Options of the UDP-only Bun.serve, on the port the TCP listener bound. */
export function serveHTTP3(c: ListenerConfig, port: number, fetch: Fetch) {
  return {
    hostname: c.hostname,
    port,
    reusePort: true,
    tls: serveTLS(c.tls!),
    http3: true,
    http1: false,
    idleTimeout: c.http.idleTimeout,
    development: false,
    maxRequestBodySize: Number.MAX_SAFE_INTEGER,
    fetch,
  };
}

/** TCP responses say where HTTP/3 is (RFC 9114 §3.1.1: `alt-svc: h3=":port"`). */
export function advertiseHTTP3(fetch: Fetch, port: () => number): Fetch {
  const advertise = (r: Response) => {
    r?.headers.set("alt-svc", `h3=":${port()}"; ma=86400`); // undefined: an upgraded websocket
    return r;
  };
  return (req, srv) => {
    const r = fetch(req, srv);
    return r instanceof Promise ? r.then(advertise) : advertise(r);
  };
}
