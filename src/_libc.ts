/**
 * The few libc calls Bun has no API for, through bun:ffi: the open-files limit
 * (getrlimit/setrlimit) and switching a listening socket's epoll interest off and on
 * (getsockopt SO_ACCEPTCONN, epoll_ctl). Linux only (glibc's `libc.so.6`, which the Debian
 * image and the usual hosts have); `libc()` is null where it cannot be loaded, and every
 * caller then does without.
 */
import { dlopen, FFIType, ptr } from "bun:ffi";

// <sys/resource.h>, <sys/socket.h>, <sys/epoll.h>: the same numbers on x86_64 and aarch64.
const RLIMIT_NOFILE = 7;
const SOL_SOCKET = 1;
const SO_ACCEPTCONN = 30;
const EPOLL_CTL_MOD = 3;

function open() {
  return dlopen("libc.so.6", {
    getrlimit: { args: [FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
    setrlimit: { args: [FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
    getsockopt: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
    epoll_ctl: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
  }).symbols;
}

let loaded: ReturnType<typeof open> | null | undefined;

/** The bindings, loaded once; null off Linux/glibc or where bun:ffi is unavailable. */
export function libc(): ReturnType<typeof open> | null {
  if (loaded === undefined) {
    try {
      loaded = process.platform === "linux" ? open() : null;
    } catch {
      loaded = null;
    }
  }
  return loaded;
}

export interface FdLimit {
  soft: number;
  hard: number;
}

/** RLIMIT_NOFILE (rlim_t is 64-bit on both architectures; RLIM_INFINITY reads as Infinity). */
export function getFdLimit(): FdLimit | null {
  const c = libc();
  if (!c) return null;
  const r = new BigUint64Array(2);
  if (c.getrlimit(RLIMIT_NOFILE, ptr(r)) !== 0) return null;
  const n = (v: bigint) => (v === 0xffffffffffffffffn ? Infinity : Number(v));
  return { soft: n(r[0]!), hard: n(r[1]!) };
}

/** Set the soft limit (the hard one unchanged); false if refused. */
export function setFdSoftLimit(soft: number, hard: number): boolean {
  const c = libc();
  if (!c) return false;
  const big = (v: number) => (v === Infinity ? 0xffffffffffffffffn : BigInt(v));
  return c.setrlimit(RLIMIT_NOFILE, ptr(new BigUint64Array([big(soft), big(hard)]))) === 0;
}

/** True if `fd` is a listening socket (SO_ACCEPTCONN); needs no file descriptor of its own. */
export function isListening(fd: number): boolean {
  const c = libc();
  if (!c) return false;
  const value = new Int32Array(1);
  const len = new Uint32Array([4]);
  return c.getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, ptr(value), ptr(len)) === 0 && value[0] === 1;
}

/**
 * EPOLL_CTL_MOD of `fd`'s registration in `epfd`, keeping its `data` (the event loop's
 * pointer to its socket). struct epoll_event is packed on x86_64 (12 bytes), naturally
 * aligned elsewhere (16).
 */
export function epollModify(epfd: number, fd: number, events: number, data: bigint): boolean {
  const c = libc();
  if (!c) return false;
  const packed = process.arch === "x64";
  const ev = new DataView(new ArrayBuffer(packed ? 12 : 16));
  ev.setUint32(0, events >>> 0, true);
  ev.setBigUint64(packed ? 4 : 8, data, true);
  return c.epoll_ctl(epfd, EPOLL_CTL_MOD, fd, ptr(ev)) === 0;
}
