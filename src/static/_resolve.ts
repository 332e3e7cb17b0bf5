/**
 * URL path → file inside a mount, or a refusal. Granian's rules (src/files.rs): the path is
 * percent-decoded, joined to the mount and canonicalised; a real path outside the mount, a
 * missing file or a directory (without --static-path-dir-to-file) is a 404; any other
 * failure (ENOTDIR, EACCES, ELOOP) is not a static file at all and goes on to the app.
 *
 * Bun already folds literal `.` and `..` segments of the URL (WHATWG URL parsing), so what
 * reaches here are the encoded forms; those are refused outright rather than resolved, along
 * with backslashes and NULs, before the file system sees them. A symlink on the way is
 * resolved and must land inside the mount, so one leading out is a 404 too.
 */
import { lstatSync, realpathSync, statSync, type Stats } from "node:fs";
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
    return realpathSync.native(path);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ENOENT" ? NOT_FOUND : PASS;
  }
}

/** lstat, as a resolution: missing is NOT_FOUND, other failures (ENOTDIR, EACCES) PASS. */
function lstat(path: string): Stats | typeof NOT_FOUND | typeof PASS {
  try {
    return lstatSync(path, { throwIfNoEntry: false }) ?? NOT_FOUND;
  } catch {
    return PASS;
  }
}

/**
 * `path` under the mount (real, resolved at start-up) with its stat. The components below the
 * mount are lstat'ed one by one: with no symlink among them the path is already canonical, at
 * one syscall per component (realpath costs several times that); a symlink anywhere sends it
 * through realpath and the inside-the-mount check.
 */
function locate(m: Mount, rel: string): Found | typeof NOT_FOUND | typeof PASS {
  let path = m.dir;
  let stat: Stats | typeof NOT_FOUND | typeof PASS | undefined;
  for (const part of rel.split("/")) {
    if (part === "") continue;
    path += "/" + part;
    stat = lstat(path);
    if (typeof stat === "number") return stat;
    if (stat.isSymbolicLink()) return locateReal(m, m.dir + rel);
  }
  if (stat === undefined) stat = lstat(m.dir || "/");
  return typeof stat === "number" ? stat : { path, stat };
}

function locateReal(m: Mount, path: string): Found | typeof NOT_FOUND | typeof PASS {
  const r = real(path);
  if (typeof r !== "string") return r;
  if (!inside(m, r)) return NOT_FOUND;
  const stat = statSync(r, { throwIfNoEntry: false });
  return stat ? { path: r, stat } : NOT_FOUND;
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
  let f = locate(m, decoded);
  if (typeof f === "number") return f;
  if (f.stat.isDirectory()) {
    if (dirToFile === undefined) return NOT_FOUND;
    f = locate(m, f.path.slice(m.dir.length) + "/" + dirToFile);
    if (typeof f === "number") return f;
  }
  // A FIFO or device under the mount would block or never end: not a static file.
  if (!f.stat.isFile()) return NOT_FOUND;
  return f;
}
