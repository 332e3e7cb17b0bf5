/**
 * Proxy headers (--proxy-headers, --forwarded-allow-ips), as uvicorn and hypercorn have them:
 * from a trusted peer only, `Forwarded` (RFC 7239) or else `X-Forwarded-For`,
 * `X-Forwarded-Proto` and `X-Forwarded-Host` set the client, the scheme and the Host the app
 * sees (ASGI `client`/`scheme`, WSGI `REMOTE_ADDR`/`wsgi.url_scheme`, RSGI `client`/`scheme`).
 * From any other peer they change nothing; a peer on the Unix socket (--uds) is trusted. Off (the default, as in Granian), the bridge gets
 * no resolver and a request pays nothing.
 *
 * The client is found right to left: each hop appends the address it saw, so the rightmost
 * address that is not itself a trusted proxy is the client; addresses left of it were written
 * by whoever the client is and are not believed.
 */
import { OptionError, type ResolvedOptions } from "./options.ts";

// node:net costs about 3 MiB of RSS in every thread that imports it (bench/RESULTS.md, 12-06
// later), and only --proxy-headers needs it: loaded on first use, not with this module.
let net: typeof import("node:net") | undefined;
const isIP = (s: string) => (net ??= require("node:net") as typeof import("node:net")).isIP(s);

/** What a trusted proxy said; each field only when it said it. */
export interface Forwarded {
  client: string | undefined;
  port: string;
  scheme: "http" | "https" | undefined;
  /** The Host header the app should see. */
  host: string | undefined;
}

export type ProxyResolver = (headers: Record<string, string>, peer: string) => Forwarded | null;

const SCHEMES: Record<string, "http" | "https"> = { http: "http", https: "https", ws: "http", wss: "https" };
const HOST = /^[A-Za-z0-9.\-_~:[\]]{1,255}$/;

/** `*`, or IPs and CIDRs separated by commas (uvicorn's --forwarded-allow-ips). */
export function trustList(spec: string): ((ip: string) => boolean) | OptionError {
  const items = spec.split(",").map((s) => s.trim()).filter(Boolean);
  if (items.includes("*")) return () => true;
  const list = new (net ??= require("node:net") as typeof import("node:net")).BlockList();
  for (const item of items) {
    const [addr, bits, extra] = item.split("/");
    const family = isIP(addr!);
    const max = family === 4 ? 32 : 128;
    if (!family || extra !== undefined || (bits !== undefined && !(/^\d+$/.test(bits) && Number(bits) <= max)))
      return new OptionError(`invalid value for --forwarded-allow-ips: ${JSON.stringify(item)} (expected an IP, a CIDR like 10.0.0.0/8, or *)`);
    const type = family === 4 ? "ipv4" : "ipv6";
    if (bits === undefined) list.addAddress(addr!, type);
    else list.addSubnet(addr!, Number(bits), type);
  }
  return (ip) => {
    const family = isIP(ip);
    return family !== 0 && list.check(ip, family === 4 ? "ipv4" : "ipv6");
  };
}

/** `for=` values of RFC 7239: `192.0.2.1`, `"[2001:db8::1]:4711"`, `unknown`, `_hidden`. */
function parseNode(v: string): { ip: string; port: string } | null {
  v = v.trim().replace(/^"|"$/g, "");
  let m = /^\[([0-9A-Fa-f:.]+)\](?::(\d{1,5}))?$/.exec(v);
  if (m && isIP(m[1]!) === 6) return { ip: m[1]!, port: m[2] ?? "0" };
  m = /^([0-9.]+)(?::(\d{1,5}))?$/.exec(v);
  if (m && isIP(m[1]!) === 4) return { ip: m[1]!, port: m[2] ?? "0" };
  if (isIP(v) === 6) return { ip: v, port: "0" };
  return null;
}

function parseForwarded(value: string): { for?: string; proto?: string; host?: string }[] {
  return value.split(",").map((element) => {
    const out: Record<string, string> = {};
    for (const pair of element.split(";")) {
      const i = pair.indexOf("=");
      if (i > 0) out[pair.slice(0, i).trim().toLowerCase()] = pair.slice(i + 1).trim().replace(/^"|"$/g, "");
    }
    return out;
  });
}

export function proxyResolver(o: ResolvedOptions): ProxyResolver | undefined {
  if (!o.proxyHeaders) return undefined;
  const trusted = trustList(o.forwardedAllowIps);
  if (trusted instanceof OptionError) throw trusted;
  // Peers are few (the proxies): remember each one's verdict.
  const verdicts = new Map<string, boolean>();
  const isTrusted = (ip: string) => {
    let v = verdicts.get(ip);
    if (v === undefined) {
      v = trusted(ip);
      if (verdicts.size < 1024) verdicts.set(ip, v);
    }
    return v;
  };
  /** The rightmost untrusted node, or the leftmost if every hop is trusted. */
  const pick = (nodes: ({ ip: string; port: string } | null)[]) => {
    for (let i = nodes.length - 1; i >= 0; i--) {
      const n = nodes[i];
      if (!n) return null; // "unknown" or garbage: stop believing here
      if (i === 0 || !isTrusted(n.ip)) return n;
    }
    return null;
  };
  return (headers, peer) => {
    // A peer on our Unix socket (--uds) has no address: only local processes that the socket's
    // permissions let in reach it, so it is trusted, as the proxy in front of a socket is.
    if (peer !== "" && !isTrusted(peer)) return null;
    let node: { ip: string; port: string } | null = null;
    let proto: string | undefined;
    let host: string | undefined;
    const fwd = headers["forwarded"];
    if (fwd !== undefined) {
      const elements = parseForwarded(fwd);
      node = pick(elements.map((e) => (e.for === undefined ? null : parseNode(e.for))));
      const nearest = elements[elements.length - 1]!;
      proto = nearest.proto;
      host = nearest.host;
    } else {
      const xff = headers["x-forwarded-for"];
      if (xff !== undefined) node = pick(xff.split(",").map((v) => parseNode(v)));
      proto = headers["x-forwarded-proto"]?.split(",").pop()?.trim();
      host = headers["x-forwarded-host"]?.split(",").pop()?.trim();
    }
    const scheme = proto === undefined ? undefined : SCHEMES[proto.toLowerCase()];
    if (!node && !scheme && !host) return null;
    return {
      client: node?.ip,
      port: node?.port ?? "0",
      scheme,
      host: host !== undefined && HOST.test(host) ? host : undefined,
    };
  };
}
