/**
 * Static files served by Bun before the app (--static-path-*): the one entry the listener
 * composes. `withStaticFiles` returns the app handler itself when no mount is configured, so
 * a server without static files pays nothing per request.
 */
import type { Server } from "bun";
import type { ResolvedOptions } from "../options.ts";
import { staticConfig } from "./config.ts";
import { NOT_FOUND, PASS, resolveFile } from "./_resolve.ts";
import { notFound, respond } from "./_respond.ts";

export { staticConfig } from "./config.ts";

export type Handler = (req: Request, server: Server<unknown>) => Response | Promise<Response>;

/** Called with each static response, for the access log and metrics (`started`: performance.now()). */
export type OnStatic = (req: Request, server: Server<unknown>, res: Response, started: number) => void;

export function withStaticFiles(o: ResolvedOptions, app: Handler, onResponse?: OnStatic): Handler {
  const cfg = staticConfig(o);
  if (!cfg) return app;
  const { mounts, dirToFile } = cfg;
  return (req, server) => {
    const url = req.url;
    const p = url.indexOf("/", url.indexOf("//") + 2);
    const q = url.indexOf("?", p);
    const path = q < 0 ? url.slice(p) : url.slice(p, q);
    for (const m of mounts) {
      const n = m.route.length;
      if (!path.startsWith(m.route) || (path.length !== n && path.charCodeAt(n) !== 47)) continue;
      const t0 = onResponse ? performance.now() : 0;
      const f = resolveFile(m, path.slice(n), dirToFile);
      if (f === PASS) continue;
      const res = f === NOT_FOUND ? notFound() : respond(req, cfg, m, f);
      onResponse?.(req, server, res, t0);
      return res;
    }
    return app(req, server);
  };
}
