/**
 * The response for a static file: validators (ETag, Last-Modified) and 304s, byte ranges
 * (206/416), HEAD, and precompressed siblings. The body is always a `Bun.file` (or a slice of
 * one), which Bun sends with sendfile(2) and never reads into memory.
 * RFC 9110 §8.8 (validators), §13 (conditional requests), §14 (range requests).
 */
import { lstatSync, realpathSync, statSync, type Stats } from "node:fs";
import type { Mount, StaticConfig } from "./config.ts";
import type { Found } from "./_resolve.ts";
import { inside } from "./_resolve.ts";

/** Content codings we look for as siblings, best first when the client has no preference. */
const ENCODINGS = [
  ["zstd", ".zst"],
  ["br", ".br"],
  ["gzip", ".gz"],
] as const;

const text = (status: number, body: string, headers: Record<string, string> = {}) =>
  new Response(body, { status, headers: { "content-type": "text/plain; charset=utf-8", ...headers } });

export const notFound = () => text(404, "Not found");

/** Client preferences from Accept-Encoding, best first (q=0 entries are refusals). */
function preferred(header: string): string[] {
  const prefs: [string, number, number][] = [];
  const refused = new Set<string>();
  let i = 0;
  for (const part of header.split(",")) {
    const [name, ...params] = part.trim().toLowerCase().split(";");
    if (!name) continue;
    let q = 1;
    for (const p of params) {
      const [k, v] = p.trim().split("=");
      if (k === "q") q = Number(v);
    }
    if (!(q > 0)) refused.add(name);
    else prefs.push([name, q, i++]);
  }
  prefs.sort((a, b) => b[1] - a[1] || a[2] - b[2]);
  const out: string[] = [];
  for (const [name] of prefs) {
    if (name === "*") for (const [e] of ENCODINGS) !refused.has(e) && out.push(e);
    else out.push(name);
  }
  return out;
}

/**
 * The best precompressed sibling the client accepts (a regular file inside the mount). The
 * file's directory is canonical already, so only the sibling itself can be a symlink.
 */
function sibling(m: Mount, f: Found, acceptEncoding: string): { path: string; stat: Stats; coding: string } | null {
  for (const coding of preferred(acceptEncoding)) {
    const ext = ENCODINGS.find((e) => e[0] === coding)?.[1];
    if (!ext) continue;
    let path = f.path + ext;
    let stat = lstatSync(path, { throwIfNoEntry: false });
    if (stat?.isSymbolicLink()) {
      try {
        path = realpathSync.native(path);
      } catch {
        continue;
      }
      if (!inside(m, path)) continue;
      stat = statSync(path, { throwIfNoEntry: false });
    }
    if (stat?.isFile()) return { path, stat, coding };
  }
  return null;
}

const etagOf = (s: Stats, coding: string) => `"${Math.floor(s.mtimeMs).toString(36)}-${s.size.toString(36)}${coding ? "-" + coding : ""}"`;

/** If-None-Match: any listed tag equal to ours by weak comparison, or "*". */
function noneMatch(header: string, etag: string): boolean {
  if (header.trim() === "*") return true;
  for (const t of header.split(",")) {
    const tag = t.trim();
    if ((tag.startsWith("W/") ? tag.slice(2) : tag) === etag) return true;
  }
  return false;
}

type Range = { start: number; end: number } | "unsatisfiable" | null;

/** A single `bytes=` range; null (serve the whole file) for syntax we do not take: many ranges, other units. */
function parseRange(header: string, size: number): Range {
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m || (m[1] === "" && m[2] === "")) return null;
  if (m[1] === "") {
    const n = Number(m[2]);
    if (n === 0 || size === 0) return "unsatisfiable";
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (m[2] !== "" && Number(m[2]) < start) return null; // invalid: ignored, as RFC 9110 §14.1.1 allows
  if (start >= size) return "unsatisfiable";
  return { start, end };
}

export function respond(req: Request, cfg: StaticConfig, m: Mount, f: Found): Response {
  const method = req.method;
  if (method !== "GET" && method !== "HEAD") return text(405, "Method not allowed", { allow: "GET, HEAD" });
  const h = req.headers;
  let { path, stat } = f;
  let coding = "";
  const headers: Record<string, string> = { "content-type": Bun.file(f.path).type, vary: "accept-encoding" };
  const ae = h.get("accept-encoding");
  if (ae) {
    const s = sibling(m, f, ae);
    if (s) {
      ({ path, stat, coding } = s);
      headers["content-encoding"] = coding;
    }
  }
  const etag = etagOf(stat, coding);
  const lastModified = new Date(Math.floor(stat.mtimeMs / 1000) * 1000).toUTCString();
  headers.etag = etag;
  headers["last-modified"] = lastModified;
  if (cfg.cacheControl) headers["cache-control"] = cfg.cacheControl;

  const inm = h.get("if-none-match");
  if (inm !== null ? noneMatch(inm, etag) : notModifiedSince(h.get("if-modified-since"), stat)) {
    delete headers["content-type"];
    delete headers["content-encoding"];
    return new Response(null, { status: 304, headers });
  }

  const size = stat.size;
  headers["accept-ranges"] = "bytes";
  const rangeHeader = method === "GET" ? h.get("range") : null;
  if (rangeHeader !== null && ifRange(h.get("if-range"), etag, lastModified)) {
    const r = parseRange(rangeHeader, size);
    if (r === "unsatisfiable") {
      return text(416, "Range not satisfiable", { "content-range": `bytes */${size}` });
    }
    if (r) {
      headers["content-range"] = `bytes ${r.start}-${r.end}/${size}`;
      return new Response(Bun.file(path).slice(r.start, r.end + 1), { status: 206, headers });
    }
  }
  if (method === "HEAD") {
    headers["content-length"] = String(size);
    return new Response(null, { status: 200, headers });
  }
  return new Response(Bun.file(path), { status: 200, headers });
}

/** If-Modified-Since (only without If-None-Match, RFC 9110 §13.1.3): unchanged since that date. */
function notModifiedSince(header: string | null, stat: Stats): boolean {
  if (header === null) return false;
  const t = Date.parse(header);
  return Number.isFinite(t) && Math.floor(stat.mtimeMs / 1000) * 1000 <= t;
}

/** If-Range: the range applies only if the representation is still the one the client has. */
function ifRange(header: string | null, etag: string, lastModified: string): boolean {
  if (header === null) return true;
  const v = header.trim();
  return v.startsWith('"') ? v === etag : v === lastModified;
}
