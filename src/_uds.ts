/**
 * Serving on a Unix socket (`--uds`, `--uds-permissions`): the path is claimed before the
 * listener binds it, given its permissions once bound, and removed on shutdown.
 *
 * A socket file left by a crashed server is replaced; one a live server answers on is not
 * taken over (that would silently cut the other server off): start-up fails instead.
 */
import { chmodSync, lstatSync, unlinkSync } from "node:fs";
import { dirname } from "node:path";
import { OptionError, type ResolvedOptions } from "./options.ts";

export interface UDSConfig {
  path: string;
  /** File mode, or undefined to keep what the umask gives. */
  mode?: number;
}

/** `0o660`, `0660` or `660`: octal, as Granian reads it (a leading 0 means octal). */
export function parseMode(raw: string): number {
  const s = raw.trim();
  const m = /^0o?([0-7]{1,4})$/i.exec(s) ?? /^([0-7]{3,4})$/.exec(s);
  if (!m) throw new OptionError(`invalid value for --uds-permissions: ${JSON.stringify(raw)} (expected an octal mode such as 0o660 or 0660)`);
  return parseInt(m[1]!, 8);
}

/** Check `--uds`/`--uds-permissions` (no I/O on the socket yet); null without `--uds`. */
export function resolveUDS(o: ResolvedOptions): UDSConfig | null {
  if (o.uds === undefined) {
    if (o.udsPermissions !== undefined) throw new OptionError("--uds-permissions needs --uds");
    return null;
  }
  if (o.uds === "") throw new OptionError("invalid value for --uds: an empty path");
  // sockaddr_un.sun_path is 108 bytes, NUL included.
  if (Buffer.byteLength(o.uds) > 107) throw new OptionError(`invalid value for --uds: ${o.uds} is longer than 107 bytes`);
  try {
    if (!lstatSync(dirname(o.uds)).isDirectory()) throw new Error();
  } catch {
    throw new OptionError(`invalid value for --uds: ${o.uds}: the directory ${dirname(o.uds)} does not exist`);
  }
  return { path: o.uds, mode: o.udsPermissions === undefined ? undefined : parseMode(o.udsPermissions) };
}

/**
 * Make the path free to bind: nothing there, or a stale socket (connecting is refused), which
 * is removed. A live socket or any other kind of file is an error.
 */
export async function claimSocketPath(u: UDSConfig): Promise<void> {
  let st;
  try {
    st = lstatSync(u.path);
  } catch {
    return; // nothing there
  }
  if (!st.isSocket()) throw new Error(`--uds ${u.path} exists and is not a socket: not replacing it`);
  const live = await Bun.connect({ unix: u.path, socket: { data() {}, open(s) { s.end(); } } }).then(
    () => true,
    () => false,
  );
  if (live) throw new Error(`--uds ${u.path} is in use: another server is listening on it`);
  unlinkSync(u.path);
}

/** Once bound: apply `--uds-permissions`. */
export function socketBound(u: UDSConfig): void {
  if (u.mode !== undefined) chmodSync(u.path, u.mode);
}

/** On shutdown: the socket file goes with the server. */
export function releaseSocketPath(u: UDSConfig): void {
  try {
    if (lstatSync(u.path).isSocket()) unlinkSync(u.path);
  } catch {}
}
