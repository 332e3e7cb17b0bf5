/**
 * Access-log lines in Granian's format language: Python %-style atoms (`%(addr)s`,
 * `%(status)d`, `%(dt_ms).3f`, `%(header{user-agent})s`) compiled once at start-up into a list
 * of parts, so a request costs one pass over them and no parsing.
 */

/** What one request gives the access log. */
export interface AccessRecord {
  addr: string;
  /** Request start, ms since the epoch. */
  start: number;
  dt_ms: number;
  status: number;
  path: string;
  query_string: string;
  method: string;
  scheme: string;
  protocol: string;
  /** Response body bytes, -1 when not known up front (a streamed body without content-length). */
  size: number;
  req: Request;
}

/** Granian's default (granian/log.py DEFAULT_ACCESSLOG_FMT). */
export const DEFAULT_ACCESS_FMT = '[%(time)s] %(addr)s - "%(method)s %(path)s %(protocol)s" %(status)d %(dt_ms).3f';

/** Atoms beyond Granian's: the response size and the user agent. */
export const ATOMS = ["addr", "time", "dt_ms", "status", "path", "query_string", "method", "scheme", "protocol", "size", "user_agent"] as const;

type Part = string | ((r: AccessRecord) => string);

const pad = (n: number) => (n < 10 ? "0" + n : String(n));

/** `2026-12-02 01:10:41 +0000`, as Granian's `%Y-%m-%d %H:%M:%S %z` in local time; cached per second. */
let cachedSecond = -1;
let cachedTime = "";
export function formatTime(ms: number): string {
  const sec = Math.floor(ms / 1000);
  if (sec === cachedSecond) return cachedTime;
  const d = new Date(sec * 1000);
  const off = -d.getTimezoneOffset();
  const tz = (off >= 0 ? "+" : "-") + pad(Math.floor(Math.abs(off) / 60)) + pad(Math.abs(off) % 60);
  cachedTime =
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${tz}`;
  cachedSecond = sec;
  return cachedTime;
}

function atom(name: string): (r: AccessRecord) => string | number {
  switch (name) {
    case "time":
      return (r) => formatTime(r.start);
    case "size":
      return (r) => (r.size < 0 ? "-" : r.size);
    case "user_agent":
      return (r) => r.req.headers.get("user-agent") ?? "-";
    case "addr":
    case "dt_ms":
    case "status":
    case "path":
    case "query_string":
    case "method":
    case "scheme":
    case "protocol":
      return (r) => r[name];
  }
  const header = /^header\{([^}]+)\}$/.exec(name);
  if (header) {
    const h = header[1]!.trim().toLowerCase();
    return (r) => r.req.headers.get(h) ?? "-";
  }
  throw new Error(`unknown atom %(${name}) (known: ${ATOMS.join(", ")}, header{name})`);
}

const SPEC = /%(?:\(([^)]*)\))?([-+ #0]*)(\d*)(?:\.(\d+))?([sdfirx%])/g;

/** Compile a format; throws with a message naming the bad atom. */
export function compileFormat(fmt: string): (r: AccessRecord) => string {
  const parts: Part[] = [];
  let last = 0;
  for (const m of fmt.matchAll(SPEC)) {
    if (m.index > last) parts.push(fmt.slice(last, m.index));
    last = m.index + m[0].length;
    const [, name, flags, width, precision, type] = m;
    if (type === "%") {
      parts.push("%");
      continue;
    }
    if (name === undefined) throw new Error(`"${m[0]}" needs an atom name, as in %(status)d`);
    const get = atom(name);
    const w = width ? Number(width) : 0;
    const left = flags!.includes("-");
    const zero = flags!.includes("0") && !left;
    const conv: (v: string | number) => string =
      type === "f"
        ? (v) => (typeof v === "number" ? v.toFixed(precision === undefined ? 6 : Number(precision)) : String(v))
        : type === "d" || type === "i"
          ? (v) => (typeof v === "number" ? String(Math.trunc(v)) : String(v))
          : type === "x"
            ? (v) => (typeof v === "number" ? Math.trunc(v).toString(16) : String(v))
            : precision !== undefined
              ? (v) => String(v).slice(0, Number(precision))
              : String;
    parts.push(
      w === 0
        ? (r) => conv(get(r))
        : (r) => {
            const s = conv(get(r));
            return left ? s.padEnd(w) : s.padStart(w, zero ? "0" : " ");
          },
    );
  }
  if (last < fmt.length) parts.push(fmt.slice(last));
  return (r) => {
    let out = "";
    for (const p of parts) out += typeof p === "string" ? p : p(r);
    return out;
  };
}

/** The JSON form (--log-format json): every atom, one object. */
export function jsonRecord(r: AccessRecord): string {
  return JSON.stringify({
    time: new Date(r.start).toISOString(),
    type: "access",
    addr: r.addr,
    method: r.method,
    path: r.path,
    query_string: r.query_string,
    scheme: r.scheme,
    protocol: r.protocol,
    status: r.status,
    dt_ms: Math.round(r.dt_ms * 1000) / 1000,
    size: r.size < 0 ? null : r.size,
    user_agent: r.req.headers.get("user-agent"),
  });
}
