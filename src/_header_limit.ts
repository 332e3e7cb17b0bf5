/**
 * The request-head limit (--http1-buffer-size). Bun has one, process-wide, read by every
 * listener thread's parser, and two ways to set it: its `--max-http-header-size` flag, and
 * node:http's `maxHeaderSize` (writable in Bun for this, typed read-only after Node).
 *
 * node:http costs about 4.5 MiB of RSS in the thread that imports it, the main thread here.
 * So `bin/granian-ts` starts Bun with the flag at the option's default, and node:http is
 * loaded only for another value, or when Bun was started some other way (`bun cli/main.ts`,
 * a host app embedding `Granian`).
 */

/** The Bun flag `bin/granian-ts` passes (tests/unit/header_limit.test.ts keeps the two in step). */
export const HEADER_LIMIT_FLAG = "--max-http-header-size";

/** The limit Bun's flag set, or undefined when Bun was started without it. */
export function flaggedHeaderLimit(execArgv: readonly string[] = process.execArgv): number | undefined {
  let value: number | undefined;
  for (let i = 0; i < execArgv.length; i++) {
    const a = execArgv[i]!;
    if (a.startsWith(HEADER_LIMIT_FLAG + "=")) value = Number(a.slice(HEADER_LIMIT_FLAG.length + 1));
    else if (a === HEADER_LIMIT_FLAG) value = Number(execArgv[++i]);
  }
  return value;
}

/** Make `bytes` the largest request head Bun takes, in every thread of this process. */
export function setMaxHeaderSize(bytes: number) {
  if (flaggedHeaderLimit() === bytes) return;
  (require("node:http") as { maxHeaderSize: number }).maxHeaderSize = bytes;
}
