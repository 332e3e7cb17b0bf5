/**
 * URL path → file inside a mount, or a refusal. Granian's rules (src/files.rs): the path is
 * percent-decoded, joined to the mount and canonicalised; a real path outside the mount, a
 * missing file or a directory (without --static-path-dir-to-file) is a 404; any other
 * failure (ENOTDIR, EACCES, ELOOP) is not a static file at all and goes on to the app.
 *
 * Bun already folds literal `.` and `..` segments of the URL (WHATWG URL parsing), so what
 * reaches here are the encoded forms; those are refused outright rather than resolved, along
 * with backslashes and NULs, before the file system sees them. The realpath check then also
 * catches a symlink that leads out of the mount.
 */
import { realpathSync, statSync, type Stats } from "node:fs";
import type { Mount } from "./config.ts";

export interface Found {
  readonly path: string;
  readonly stat: Stats;
}

/** A file, NOT_FOUND (answer 404), or PASS (not ours: the app gets the request). */
export type Resolution = Found | typeof NOT_FOUND | typeof PASS;
export const NOT_FOUND = 404;
export const PASS = 0;

const BAD_SEGMENT = /(^|\/)\.\.?(\/|$)/;

/** Is `real` the mount itself or inside it? */
export const inside = (m: Mount, real: string) =>
  real.startsWith(m.dir) && (real.length === m.dir.length || real.charCodeAt(m.dir.length) === 47);

function real(path: string): string | typeof NOT_FOUND | typeof PASS {
  try {
    return realpathSync(path);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ENOENT" ? NOT_FOUND : PASS;
  }
}

/** `rest` is the raw (still percent-encoded) path after the mount's route: "" or "/…". */
export function resolveFile(m: Mount, rest: string, dirToFile: string | undefined): Resolution {
  let decoded: string;
  try {
    decoded = rest.includes("%") ? decodeURIComponent(rest) : rest;
  } catch {
    return NOT_FOUND; // malformed percent-encoding
  }
  if (decoded.includes("\0") || decoded.includes("\\") || BAD_SEGMENT.test(decoded)) return NOT_FOUND;
  let path = real(m.dir + (decoded.startsWith("/") ? decoded : "/" + decoded));
  if (typeof path !== "string") return path;
  if (!inside(m, path)) return NOT_FOUND;
  let stat = statSync(path, { throwIfNoEntry: false });
  if (!stat) return NOT_FOUND;
  if (stat.isDirectory()) {
    if (dirToFile === undefined) return NOT_FOUND;
    path = real(`${path}/${dirToFile}`);
    if (typeof path !== "string") return path;
    if (!inside(m, path)) return NOT_FOUND;
    stat = statSync(path, { throwIfNoEntry: false });
    if (!stat) return NOT_FOUND;
  }
  // A FIFO or device under the mount would block or never end: not a static file.
  if (!stat.isFile()) return NOT_FOUND;
  return { path, stat };
}
