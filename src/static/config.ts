/**
 * The static-file options resolved once at start-up: routes paired with mounts in order, as
 * Granian pairs them, each mount made absolute and real (symlinks resolved) so that every
 * served path can be checked against it by prefix.
 */
import { realpathSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { OptionError, type ResolvedOptions } from "../options.ts";

export interface Mount {
  /** URL route without a trailing slash ("" for "/"). */
  readonly route: string;
  /** Real path of the directory, without a trailing slash. */
  readonly dir: string;
}

export interface StaticConfig {
  readonly mounts: readonly Mount[];
  readonly dirToFile: string | undefined;
  /** Cache-Control value, or undefined for none (--static-path-expires 0). */
  readonly cacheControl: string | undefined;
}

/** Null when no mount is configured: the listener then composes no static handler at all. */
export function staticConfig(o: ResolvedOptions): StaticConfig | null {
  const dirs = o.staticPathMount;
  if (dirs.length === 0) return null;
  const routes = o.staticPathRoute;
  if (routes.length !== dirs.length)
    throw new OptionError(
      `invalid value for --static-path-route: ${routes.length} route(s) for ${dirs.length} --static-path-mount(s) (give one route per mount, in order)`,
    );
  const mounts = dirs.map((d, i) => {
    let real: string;
    try {
      // Relative to where we were started, like the mount paths Granian resolves.
      real = realpathSync(resolve(d));
      if (!statSync(real).isDirectory()) throw new Error();
    } catch {
      throw new OptionError(`invalid value for --static-path-mount: ${JSON.stringify(d)} (expected an existing directory)`);
    }
    const route = routes[i]!;
    if (!route.startsWith("/")) throw new OptionError(`invalid value for --static-path-route: ${JSON.stringify(route)} (expected a path starting with /)`);
    return { route: route.replace(/\/+$/, ""), dir: real === "/" ? "" : real };
  });
  const dirToFile = o.staticPathDirToFile;
  if (dirToFile !== undefined && (dirToFile === "" || /[/\\\0]/.test(dirToFile) || dirToFile === ".."))
    throw new OptionError(`invalid value for --static-path-dir-to-file: ${JSON.stringify(dirToFile)} (expected a file name)`);
  return {
    mounts,
    dirToFile,
    cacheControl: o.staticPathExpires > 0 ? `max-age=${o.staticPathExpires}` : undefined,
  };
}
