/**
 * --process-name: the name `ps -o comm`, top and htop show for the server (Linux
 * prctl(PR_SET_NAME), at most 15 bytes). Bun's `process.title` does not change it. Elsewhere,
 * or if libc cannot be loaded, the option is a warning.
 */
import { consola } from "./logs/_consola.ts";

const PR_SET_NAME = 15;

export function setProcessName(name: string): boolean {
  if (process.platform === "linux") {
    try {
      const { dlopen, FFIType, ptr } = require("bun:ffi") as typeof import("bun:ffi");
      const libc = dlopen("libc.so.6", { prctl: { args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.u64, FFIType.u64], returns: FFIType.i32 } });
      const buf = Buffer.from(Buffer.from(name).subarray(0, 15).toString("latin1") + "\0", "latin1");
      const ok = libc.symbols.prctl(PR_SET_NAME, ptr(buf), 0, 0, 0) === 0;
      libc.close();
      if (ok) return true;
    } catch {}
  }
  consola.withTag("granian-ts").warn(`--process-name could not be applied on this system`);
  return false;
}
