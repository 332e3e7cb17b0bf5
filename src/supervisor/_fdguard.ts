/**
 * Open files, process-wide (every listener thread and the supervisor share one fd table).
 *
 * `raiseFdLimit`: the soft RLIMIT_NOFILE up to the hard one, as nginx does. Bun 1.4 already
 * does this when it starts; this keeps it true if it stops doing so. Python workers inherit it.
 *
 * `FdGuard`: when the table is (nearly) full, accept(2) fails with EMFILE, the connection
 * stays in the listen queue, the socket stays readable, and each listener thread's event loop
 * spins at 100% CPU. Near the limit the guard takes the listening sockets out of their epoll
 * sets (EPOLL_CTL_MOD with no events: nginx's `ngx_disable_accept_events`), so new
 * connections wait in the kernel's backlog while every open connection is served; once
 * enough descriptors are free it puts them back and the backlog is accepted. `server.stop()`
 * cannot do this: Bun closes idle keep-alive connections when a server stops listening.
 */
import { closeSync, openSync, readFileSync, readdirSync, readlinkSync, statSync } from "node:fs";
import { consola } from "../logs/_consola.ts";
import { epollModify, getFdLimit, isListening, setFdSoftLimit, type FdLimit } from "../_libc.ts";

/**
 * Made when used: a tagged logger copies consola's level when it is made, and one made at
 * import would keep the default (info) and drop these debug lines under --log-level debug.
 */
const log = () => consola.withTag("granian-ts");

/** Raise the soft open-files limit to the hard one; the limits after, or null without libc. */
export function raiseFdLimit(): FdLimit | null {
  const before = getFdLimit();
  if (!before) {
    log().debug("open files: limit unknown (no libc through bun:ffi); left as it is");
    return null;
  }
  if (before.soft >= before.hard) {
    log().debug(`open files: soft limit ${before.soft} is already the hard limit`);
    return before;
  }
  // A hard limit of "unlimited" cannot be a soft one (setrlimit refuses above fs.nr_open).
  const target = before.hard === Infinity ? nrOpen() : before.hard;
  if (target > before.soft && setFdSoftLimit(target, before.hard)) {
    log().debug(`open files: soft limit raised from ${before.soft} to ${target} (hard ${before.hard})`);
    return { soft: target, hard: before.hard };
  }
  log().debug(`open files: soft limit ${before.soft} could not be raised (hard ${before.hard})`);
  return before;
}

function nrOpen(): number {
  try {
    return Number(readFileSync("/proc/sys/fs/nr_open", "utf8").trim()) || 1024 * 1024;
  } catch {
    return 1024 * 1024;
  }
}

/** How often the count of open files is looked at: one stat(2), no descriptor needed. */
const SAMPLE_MS = 100;
/**
 * Descriptors held while accepting and let go when the guard stops accepting: a burst that
 * fills the table between two samples still leaves these for the open connections (a static
 * file, a reconnect to a respawned worker) and for the guard's own look at /proc.
 */
const SPARES = 16;

/**
 * EPOLLERR | EPOLLHUP: always reported, so the kernel keeps them in a registration's events
 * (fdinfo shows 0x18 for one switched off).
 */
const ALWAYS = 0x08 | 0x10;
const isOff = (events: number) => (events & ~ALWAYS) === 0;

/** One listening socket's registration in one event loop's epoll set. */
interface Registration {
  epfd: number;
  fd: number;
  /** The socket's inode: fd numbers are reused, inodes are not. */
  inode: string;
  events: number;
  data: bigint;
}

export class FdGuard {
  private readonly limit: number;
  /** Stop accepting at `limit - reserve` open files; accept again below `limit - 2 * reserve`. */
  readonly reserve: number;
  private timer: ReturnType<typeof setInterval> | null = null;
  private spares: number[] = [];
  /** Registrations last seen, and those switched off now. */
  private known: Registration[] = [];
  private paused: Registration[] = [];
  /** Not accepting now (the listening sockets are off). */
  private pausing = false;
  /** A look at /proc failed while pausing (no descriptor free): try again on the next sample. */
  private incomplete = false;

  constructor(limit: number) {
    this.limit = limit;
    // 5% of the limit, at least 32, but never so much of a small limit that the server's own
    // descriptors would keep it paused, and at most 1024.
    this.reserve = Math.min(Math.max(Math.ceil(limit / 20), 32), Math.floor(limit / 8), 1024);
  }

  /** A guard for this process's soft limit, or null where it cannot work (no libc, no /proc). */
  static create(limit: FdLimit | null): FdGuard | null {
    if (!limit || limit.soft === Infinity || openFiles() < 0) return null;
    return new FdGuard(limit.soft);
  }

  start() {
    this.known = this.discover() ?? [];
    this.takeSpares();
    this.timer = setInterval(() => this.sample(), SAMPLE_MS);
    this.timer.unref();
    log().debug(`open files: limit ${this.limit}; new connections wait from ${this.limit - this.reserve} open files on`);
  }

  stop() {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.pausing) this.resume();
    this.dropSpares();
  }

  private sample() {
    const n = openFiles();
    const count = n < 0 ? this.limit : n; // EMFILE on the fallback count: full
    if (!this.pausing) {
      if (count >= this.limit - this.reserve) this.pause(count);
    } else if (this.incomplete) {
      this.pauseMore();
    } else if (count < this.limit - 2 * this.reserve) {
      this.resume();
      this.takeSpares();
      log().info(`open files down to ${count} of ${this.limit}: accepting new connections again`);
    }
  }

  private pause(count: number) {
    this.pausing = true;
    // The known registrations first: that needs no descriptor, and the spares freed next
    // must not go to an accept loop that is still on.
    for (const r of this.known) if (this.valid(r)) this.off(r);
    this.dropSpares();
    this.pauseMore();
    log().warn(`open files at ${count} of ${this.limit}: new connections wait until some close; open ones are served`);
  }

  /** Look again (a listener thread may be new since the last look) and switch off the rest. */
  private pauseMore() {
    const found = this.discover();
    this.incomplete = found === null;
    if (!found) return;
    for (const r of found) if (!isOff(r.events)) this.off(r);
  }

  private off(r: Registration) {
    if (this.paused.some((p) => same(p, r))) return;
    if (epollModify(r.epfd, r.fd, 0, r.data)) this.paused.push(r);
  }

  private resume() {
    // Only registrations still there, still off, with the same event-loop pointer: anything
    // else was closed or reused meanwhile and is not ours to touch.
    const now = this.discover();
    for (const r of this.paused) {
      if (now ? now.some((x) => same(x, r) && isOff(x.events)) : this.valid(r)) epollModify(r.epfd, r.fd, r.events, r.data);
    }
    this.paused = [];
    this.pausing = false;
    this.incomplete = false;
    this.known = this.discover() ?? this.known;
  }

  private valid(r: Registration): boolean {
    try {
      return readlinkSync(`/proc/self/fd/${r.fd}`) === `socket:[${r.inode}]` && readlinkSync(`/proc/self/fd/${r.epfd}`) === "anon_inode:[eventpoll]";
    } catch {
      return false;
    }
  }

  /** Every listening socket in every epoll set of this process; null if /proc could not be read. */
  private discover(): Registration[] | null {
    try {
      const out: Registration[] = [];
      const fds = readdirSync("/proc/self/fd").map(Number);
      const links = new Map<number, string>();
      for (const fd of fds) {
        try {
          links.set(fd, readlinkSync(`/proc/self/fd/${fd}`));
        } catch {}
      }
      const inodeOf = (fd: number) => /^socket:\[(\d+)\]$/.exec(links.get(fd) ?? "")?.[1];
      for (const [epfd, link] of links) {
        if (link !== "anon_inode:[eventpoll]") continue;
        // fdinfo: "tfd: <fd> events: <hex> data: <hex> ..." per registration (proc(5)).
        const info = readFileSync(`/proc/self/fdinfo/${epfd}`, "utf8");
        for (const m of info.matchAll(/^tfd:\s*(\d+)\s+events:\s*([0-9a-f]+)\s+data:\s*([0-9a-f]+)/gm)) {
          const fd = Number(m[1]);
          const inode = inodeOf(fd);
          if (inode && isListening(fd)) out.push({ epfd, fd, inode, events: parseInt(m[2]!, 16), data: BigInt(`0x${m[3]}`) });
        }
      }
      return out;
    } catch {
      return null;
    }
  }

  private takeSpares() {
    try {
      while (this.spares.length < SPARES) this.spares.push(openSync("/dev/null", "r"));
    } catch {}
  }

  private dropSpares() {
    for (const fd of this.spares.splice(0)) closeSync(fd);
  }
}

const same = (a: Registration, b: Registration) => a.epfd === b.epfd && a.fd === b.fd && a.inode === b.inode && a.data === b.data;

/**
 * Open descriptors of this process: Linux ≥ 6.2 gives the count as the size of /proc/self/fd
 * (one stat, no descriptor); before, count the entries (which needs one). -1 if neither works.
 */
export function openFiles(): number {
  try {
    const size = statSync("/proc/self/fd").size;
    if (size > 0) return size;
    return readdirSync("/proc/self/fd").length - 1; // minus the one reading it
  } catch {
    return -1;
  }
}
