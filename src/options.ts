/**
 * The option table: every server option is declared here once (name, type, default, env var,
 * range, help). The CLI args, the `GRANIAN_*` environment lookup, the TS API type and the
 * README table are all derived from it, so an option is never spelled out twice.
 */

import { resolve as resolvePath } from "node:path";

/**
 * `duration`: seconds, given as an integer or a human duration like Granian's (`1d`, `6h`,
 * `1h30m`, `45s`). `list`: a repeatable option (each flag adds one value; an env var holds
 * them separated by whitespace, as click reads Granian's).
 */
type Kind = "string" | "int" | "float" | "duration" | "bool" | "enum" | "list";

interface OptionSpec<K extends Kind = Kind, C extends readonly string[] = readonly string[]> {
  /** camelCase key in the TS API; the CLI flag is its kebab-case form. */
  readonly kind: K;
  readonly default: unknown;
  readonly help: string;
  readonly choices?: C;
  readonly min?: number;
  readonly max?: number;
  /** Environment variable; derived as GRANIAN_<SNAKE_CASE> unless set. */
  readonly env?: string;
  /** Set for options with no CLI flag of their own (the positional APP). */
  readonly positional?: true;
  /** Other CLI flags for the same option (kebab-case, without `--`), e.g. an older name. */
  readonly alias?: string | readonly string[];
}

const opt = <const K extends Kind, const C extends readonly string[] = readonly string[]>(
  spec: OptionSpec<K, C>,
) => spec;

export const Interfaces = { ASGI: "asgi", ASGINL: "asginl", RSGI: "rsgi", WSGI: "wsgi" } as const;
export const HTTPModes = { auto: "auto", http1: "1", http2: "2" } as const;
export const Loops = { auto: "auto", asyncio: "asyncio", uvloop: "uvloop" } as const;
export const LogLevels = ["critical", "error", "warning", "warn", "info", "debug", "notset"] as const;

export const OPTIONS = {
  target: opt({ kind: "string", default: undefined, positional: true, help: "Application target to serve, as module:attr (attr defaults to app)" }),
  interface: opt({ kind: "enum", default: "rsgi", choices: Object.values(Interfaces), help: "Application interface; asginl is ASGI without lifespan" }),
  address: opt({ kind: "string", default: "127.0.0.1", env: "GRANIAN_HOST", help: "Address to bind to" }),
  port: opt({ kind: "int", default: 8000, min: 0, max: 65535, help: "Port to bind to (0 picks a free one and logs it)" }),
  workers: opt({ kind: "int", default: 1, min: 1, max: 1024, help: "Number of Python worker processes" }),
  runtimeThreads: opt({ kind: "int", default: 1, min: 1, max: 256, help: "Bun listener threads per worker, each its own Bun.serve sharing the port by SO_REUSEPORT" }),
  blockingThreads: opt({ kind: "int", default: undefined, min: 1, max: 1024, help: "Threads per worker that run a WSGI app (default: backpressure / 2 for WSGI, 1 otherwise)" }),
  blockingThreadsIdleTimeout: opt({ kind: "int", default: 30, min: 5, max: 600, help: "Seconds an idle blocking thread is kept alive" }),
  http: opt({ kind: "enum", default: "auto", choices: Object.values(HTTPModes), help: "HTTP versions; auto serves HTTP/1.1 and h2c prior knowledge on one port" }),
  loop: opt({ kind: "enum", default: "auto", choices: [...Object.values(Loops), "rloop", "winloop"], help: "Python event loop; auto is uvloop when importable (Granian's rloop and winloop are accepted and warned about: auto)" }),
  backlog: opt({ kind: "int", default: 1024, min: 128, max: 65535, help: "Listen backlog: accepted for Granian compatibility, not applied (Bun.serve has no setting for it and listens with a backlog of 512, capped by net.core.somaxconn); also sets the default --backpressure" }),
  backpressure: opt({ kind: "int", default: undefined, min: 1, max: 1_000_000, help: "Requests a worker runs at once; more wait in Bun (default: backlog / workers)" }),
  reload: opt({ kind: "bool", default: false, help: "Restart the workers when Python files in the working directory change" }),
  logLevel: opt({ kind: "enum", default: "info", choices: LogLevels, help: "Log level of the server and its workers" }),
  log: opt({ kind: "bool", default: true, env: "GRANIAN_LOG_ENABLED", help: "Log at all; --no-log silences the server's own lines and the access log" }),
  logConfig: opt({ kind: "string", default: undefined, help: "Logging configuration file: Granian's JSON (Python logging dictConfig), applied in the workers; the access logger's level and stream apply to the access log" }),
  logFormat: opt({ kind: "enum", default: "text", choices: ["text", "json"], env: "GRANIAN_TS_LOG_FORMAT", help: "json: every log line, access log included, is one JSON object" }),
  accessLog: opt({ kind: "bool", default: false, env: "GRANIAN_LOG_ACCESS_ENABLED", help: "Log every request (access log), written in batches off the request path" }),
  accessLogFmt: opt({ kind: "string", default: undefined, env: "GRANIAN_LOG_ACCESS_FMT", help: "Access log format, Granian's atoms: %(addr)s %(time)s %(dt_ms).3f %(status)d %(path)s %(query_string)s %(method)s %(scheme)s %(protocol)s %(header{name})s, and %(size)s %(user_agent)s (default: Granian's)" }),
  workingDir: opt({ kind: "string", default: undefined, help: "Working directory, put first on sys.path (default: the current directory)" }),
  urlPathPrefix: opt({ kind: "string", default: "", alias: "root-path", help: "URL prefix the app is mounted at: ASGI root_path, WSGI SCRIPT_NAME" }),
  python: opt({ kind: "string", default: undefined, env: "GRANIAN_TS_PYTHON", help: "Python interpreter for the workers (default: $VIRTUAL_ENV/bin/python, else python3)" }),
  ws: opt({ kind: "bool", default: true, env: "GRANIAN_WEBSOCKETS", help: "Serve websockets (ASGI, RSGI); with --no-ws upgrade requests reach the app as plain HTTP" }),
  wsPingInterval: opt({ kind: "int", default: 0, min: 0, max: 960, help: "Seconds between server pings on an idle websocket (Bun rounds 1-7 up to 8); a client that does not answer is closed; 0: no pings, no idle timeout" }),
  wsCompression: opt({ kind: "bool", default: false, help: "Offer permessage-deflate compression on websockets" }),
  wsMaxMessageSize: opt({ kind: "int", default: 16 * 1024 * 1024, min: 1, max: 0xffffffff, help: "Largest websocket message a client may send, in bytes; larger ones close with 1009" }),
  staticPathRoute: opt({ kind: "list", default: ["/static"], help: "URL route(s) served from static files by Bun, before the app; paired in order with --static-path-mount" }),
  staticPathMount: opt({ kind: "list", default: [], help: "Directory (or directories) served at the matching --static-path-route" }),
  staticPathDirToFile: opt({ kind: "string", default: undefined, help: "File served for a request of a static directory (e.g. index.html); without it a directory is a 404" }),
  staticPathExpires: opt({ kind: "duration", default: 86400, min: 0, max: 10 * 365 * 86400, help: "Cache-Control max-age of static files (seconds or e.g. 1d, 6h); 0: no Cache-Control" }),
  http1BufferSize: opt({ kind: "int", default: 417792, min: 8192, max: 2 * 1024 * 1024, help: "Largest request head (request line and headers) in bytes, as Granian's HTTP/1 buffer; a larger one gets 431. Process-wide in Bun: it applies to every Bun.serve in the process" }),
  http1HeaderReadTimeout: opt({ kind: "int", default: 30_000, min: 1, max: 60_000, help: "Milliseconds a client has to send a request's headers; also how long an idle keep-alive connection stays open (Bun counts whole seconds)" }),
  http1KeepAlive: opt({ kind: "bool", default: true, help: "HTTP/1 keep-alive; with --no-http1-keep-alive every response closes its connection" }),
  http1PipelineFlush: opt({ kind: "bool", default: false, help: "Aggregate flushes of pipelined HTTP/1 responses (accepted, not applied: Bun batches writes per event-loop turn itself)" }),
  http2AdaptiveWindow: opt({ kind: "bool", default: false, help: "Adaptive HTTP/2 flow control (accepted, not applied: Bun has no setting for it)" }),
  http2InitialConnectionWindowSize: opt({ kind: "int", default: 1024 * 1024, min: 1024, max: 0x7fffffff, help: "HTTP/2 connection-level flow-control window (accepted, not applied: Bun has no setting for it)" }),
  http2InitialStreamWindowSize: opt({ kind: "int", default: 1024 * 1024, min: 1024, max: 0x7fffffff, help: "HTTP/2 SETTINGS_INITIAL_WINDOW_SIZE (accepted, not applied: Bun has no setting for it)" }),
  http2KeepAliveInterval: opt({ kind: "int", default: undefined, min: 1, max: 60_000, help: "Milliseconds between HTTP/2 keep-alive pings (accepted, not applied: Bun sends no pings)" }),
  http2KeepAliveTimeout: opt({ kind: "duration", default: 20, min: 1, max: 31_536_000, help: "Seconds (or 1m-style) to wait for a keep-alive ping's ack (accepted, not applied: Bun sends no pings)" }),
  http2MaxConcurrentStreams: opt({ kind: "int", default: 200, min: 10, max: 0x7fffffff, help: "HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS (accepted, not applied: Bun has no setting for it)" }),
  http2MaxFrameSize: opt({ kind: "int", default: 1024 * 16, min: 1024, max: 0x7fffffff, help: "HTTP/2 SETTINGS_MAX_FRAME_SIZE (accepted, not applied: Bun has no setting for it)" }),
  http2MaxHeadersSize: opt({ kind: "int", default: 16 * 1024 * 1024, min: 1, max: 0x7fffffff, help: "Largest HTTP/2 header block a client may send (accepted, not applied: Bun has no setting for it)" }),
  http2MaxSendBufferSize: opt({ kind: "int", default: 1024 * 400, min: 1024, max: 0x7fffffff, help: "Write buffer per HTTP/2 stream (accepted, not applied: Bun has no setting for it)" }),
  http3: opt({ kind: "bool", default: false, env: "GRANIAN_TS_HTTP3", help: "Experimental: also serve HTTP/3 (QUIC, UDP on the same port); needs TLS" }),
  sslCertificate: opt({ kind: "string", default: undefined, help: "TLS certificate file (PEM; the chain after the certificate)" }),
  sslKeyfile: opt({ kind: "string", default: undefined, help: "TLS private key file (PEM, may be encrypted)" }),
  sslKeyfilePassword: opt({ kind: "string", default: undefined, help: "Password of an encrypted --ssl-keyfile" }),
  sslProtocolMin: opt({ kind: "enum", default: "tls1.3", choices: ["tls1.2", "tls1.3"], help: "Oldest TLS version a client may use" }),
  sslCa: opt({ kind: "string", default: undefined, help: "CA certificates (PEM) that client certificates must be signed by" }),
  sslCrl: opt({ kind: "string", default: undefined, help: "Certificate revocation list (PEM) for client certificates" }),
  sslClientVerify: opt({ kind: "bool", default: false, help: "Require a client certificate signed by --ssl-ca (mutual TLS)" }),
  uds: opt({ kind: "string", default: undefined, help: "Unix socket to bind to instead of --host/--port" }),
  udsPermissions: opt({ kind: "string", default: undefined, help: "Permissions of the --uds file, in octal (0o660 or 0660)" }),
  metrics: opt({ kind: "bool", default: false, env: "GRANIAN_METRICS_ENABLED", help: "Serve Prometheus metrics on their own port (--metrics-address, --metrics-port)" }),
  metricsScrapeInterval: opt({ kind: "duration", default: 15, min: 1, max: 60, help: "Seconds between metric collections (listener snapshots, worker RSS samples)" }),
  metricsAddress: opt({ kind: "string", default: "127.0.0.1", help: "Address the metrics endpoint binds to" }),
  metricsPort: opt({ kind: "int", default: 9090, min: 0, max: 65535, help: "Port of the metrics endpoint (0 picks a free one and logs it)" }),
  pidFile: opt({ kind: "string", default: undefined, help: "Write the server's pid to this file; removed on exit (refused if it names another running process)" }),
  envFiles: opt({ kind: "list", default: [], help: "Dotenv file(s) loaded in order for the workers; later files win, the environment wins over all" }),
  factory: opt({ kind: "bool", default: false, help: "The target is a callable that returns the app; it is called once per worker" }),
  runtimeMode: opt({ kind: "enum", default: "auto", choices: ["auto", "mt", "st"], help: "Accepted for Granian compatibility; changes nothing (each listener thread has its own event loop)" }),
  runtimeBlockingThreads: opt({ kind: "int", default: undefined, min: 1, max: 1024, help: "Accepted for Granian compatibility; changes nothing (Bun does its own I/O)" }),
  taskImpl: opt({ kind: "enum", default: "asyncio", choices: ["asyncio", "rust"], help: "How the Python workers run request coroutines: asyncio Tasks, or (rust, as Granian's: Python < 3.12, experimental) stepped without a Task, about 1 µs less per request" }),
  gcFreeze: opt({ kind: "bool", default: true, env: "GRANIAN_TS_GC_FREEZE", help: "Once the app is loaded, each worker collects garbage and freezes what is left (gc.freeze()), so the garbage collector stops rescanning the app's own objects under load; --no-gc-freeze keeps Python's default" }),
  speedups: opt({ kind: "bool", default: true, env: "GRANIAN_TS_SPEEDUPS", help: "The workers decode and encode frames with the C codec built with the package (2-4 µs less per ASGI or WSGI request) where it loads; --no-speedups keeps the pure-Python one, which is always there" }),
  proxyHeaders: opt({ kind: "bool", default: false, env: "GRANIAN_TS_PROXY_HEADERS", help: "Believe Forwarded / X-Forwarded-For, -Proto, -Host from --forwarded-allow-ips peers: they set the client, scheme and Host the app sees" }),
  forwardedAllowIps: opt({ kind: "string", default: "127.0.0.1", env: "GRANIAN_TS_FORWARDED_ALLOW_IPS", help: "Proxies trusted with --proxy-headers: IPs and CIDRs separated by commas, or *" }),
  backpressureQueue: opt({ kind: "int", default: 1024, min: 0, max: 1_000_000, help: "Requests that may wait while every worker is at its backpressure (or none is up); beyond it they get 503 with Retry-After" }),
  backpressureTimeout: opt({ kind: "float", default: 30, min: 0.001, max: 3600, help: "Seconds a request may wait for a worker before it gets 503 with Retry-After" }),
  bodyReadTimeout: opt({ kind: "int", default: 30_000, min: 0, max: 3_600_000, help: "Milliseconds a client may leave its request body unsent (no byte arriving) before it gets 408 and its slot frees; 0: no limit" }),
  startupTimeout: opt({ kind: "int", default: 120, min: 1, max: 86_400, help: "Seconds a worker may take to import the app and run lifespan startup; past it the server exits with one line naming the worker and the phase" }),
  respawnFailedWorkers: opt({ kind: "bool", default: false, help: "Replace a worker that exits unexpectedly (without it the server stops); a worker that dies within 5 s of starting 3 times in a row stops the server" }),
  respawnInterval: opt({ kind: "float", default: 3.5, min: 0, max: 3600, help: "Seconds between the workers of a rolling restart (SIGHUP, server.reload())" }),
  workersLifetime: opt({ kind: "duration", default: undefined, min: 1, max: 31_536_000, help: "Replace each worker after this long (seconds or 1h30m-style), without dropping a request" }),
  workersLifetimeJitter: opt({ kind: "duration", default: undefined, min: 0, max: 31_536_000, help: "Up to this much (random) is added to each worker's lifetime, so workers do not all restart at once" }),
  workersMaxRequests: opt({ kind: "int", default: undefined, min: 1, max: 2_000_000_000, help: "Replace a worker after it served this many requests" }),
  workersMaxRequestsJitter: opt({ kind: "int", default: 0, min: 0, max: 2_000_000_000, help: "Up to this many (random) are added to each worker's --workers-max-requests" }),
  workersMaxRss: opt({ kind: "int", default: undefined, min: 1, max: 1_048_576, help: "Replace a worker whose resident memory (MiB) is above this for --rss-samples samples" }),
  rssSampleInterval: opt({ kind: "duration", default: 30, min: 1, max: 300, help: "Seconds (or 1m-style) between samples of the workers' memory" }),
  rssSamples: opt({ kind: "int", default: 1, min: 1, max: 1000, help: "Consecutive samples over --workers-max-rss before a worker is replaced" }),
  workersKillTimeout: opt({ kind: "duration", default: undefined, min: 1, max: 1800, help: "Seconds a replaced or stopping worker gets to finish its requests and websockets before it is killed (default: --shutdown-timeout)" }),
  reloadPaths: opt({ kind: "list", default: [], help: "Paths --reload watches (default: the working directory)" }),
  reloadIgnoreDirs: opt({ kind: "list", default: [], help: "Directory names --reload ignores, added to watchfiles' defaults (__pycache__, .git, .venv, node_modules, …)" }),
  reloadIgnorePatterns: opt({ kind: "list", default: [], help: "File name patterns (regexes) --reload ignores, added to the defaults" }),
  reloadIgnorePaths: opt({ kind: "list", default: [], help: "Paths --reload ignores" }),
  reloadTick: opt({ kind: "int", default: 50, min: 50, max: 5000, help: "Milliseconds without a new change before --reload acts on a burst of changes (at most 1.6 s after its first)" }),
  reloadIgnoreWorkerFailure: opt({ kind: "bool", default: false, help: "With --reload: a worker that dies, or fails to start the first time, does not stop the server; it starts again on the next change (503 while no worker is up)" }),
  processName: opt({ kind: "string", default: undefined, help: "Name of the server process as ps and top show it (Linux; the workers are named NAME-w<id>; 15 characters at most are kept)" }),
  shutdownTimeout: opt({ kind: "int", default: 30, min: 0, max: 3600, env: "GRANIAN_TS_SHUTDOWN_TIMEOUT", help: "Seconds to let in-flight requests finish on shutdown" }),
} as const;

export type OptionName = keyof typeof OPTIONS;

type ValueOf<S> = S extends { kind: "int" | "float" | "duration" }
  ? number
  : S extends { kind: "list" }
    ? string[]
  : S extends { kind: "bool" }
    ? boolean
    : S extends { kind: "enum"; choices: readonly (infer C)[] }
      ? C
      : string;

/** Options as the TS API takes them: every key optional except `target`. */
export type GranianOptions = { target: string } & {
  -readonly [K in Exclude<OptionName, "target">]?: ValueOf<(typeof OPTIONS)[K]>;
} & {
  /** @deprecated Granian's name is `urlPathPrefix`; this one is still read when that is not given. */
  rootPath?: string;
};

/** Options after defaults, env and validation: what the runtime reads. */
export type ResolvedOptions = {
  -readonly [K in OptionName]: ValueOf<(typeof OPTIONS)[K]>;
} & { workingDir: string; python: string; blockingThreads: number; backpressure: number };

/** A bad option value: `message` is the one line the CLI prints before exiting 2. */
export class OptionError extends Error {
  override name = "OptionError";
}

export const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** The CLI flag of an option: `address` is `--host`, as in Granian. */
export const flagOf = (name: OptionName) => (name === "address" ? "host" : kebab(name));

/** Every CLI flag of an option (without `--`): its own first, then its aliases. */
export const flagsOf = (name: OptionName): string[] => {
  const alias = (OPTIONS[name] as OptionSpec).alias;
  return [flagOf(name), ...(alias === undefined ? [] : typeof alias === "string" ? [alias] : alias)];
};

export const envOf = (name: OptionName): string | undefined => {
  const spec: OptionSpec = OPTIONS[name];
  if (spec.positional) return undefined;
  return spec.env ?? `GRANIAN_${kebab(name).replace(/-/g, "_").toUpperCase()}`;
};

function describe(spec: OptionSpec): string {
  switch (spec.kind) {
    case "int":
      return `an integer from ${spec.min} to ${spec.max}`;
    case "float":
      return `a number from ${spec.min} to ${spec.max}`;
    case "list":
      return "one or more strings";
    case "duration":
      return `seconds from ${spec.min} to ${spec.max}, or a duration like 1h30m`;
    case "bool":
      return "true or false";
    case "enum":
      return `one of ${spec.choices!.join(", ")}`;
    default:
      return "a string";
  }
}

/** Seconds of "90", "1h30m", "2d", "45s" (Granian's durations); NaN otherwise. */
export function parseDuration(text: string): number {
  const t = text.trim();
  if (/^\d+$/.test(t)) return Number(t);
  const m = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(t);
  if (!m || !t) return NaN;
  const [, d = 0, h = 0, min = 0, sec = 0] = m;
  return ((+d * 24 + +h) * 60 + +min) * 60 + +sec;
}

/** Parse and check one value (from the API, argv or env) against its spec. */
export function parseOption(name: OptionName, raw: unknown, source = `--${flagOf(name)}`): unknown {
  const spec: OptionSpec = OPTIONS[name];
  const fail = (): never => {
    throw new OptionError(`invalid value for ${source}: ${JSON.stringify(raw)} (expected ${describe(spec)})`);
  };
  switch (spec.kind) {
    case "int": {
      const n = typeof raw === "number" ? raw : typeof raw === "string" && /^\s*-?\d+\s*$/.test(raw) ? Number(raw) : NaN;
      if (!Number.isInteger(n) || n < spec.min! || n > spec.max!) fail();
      return n;
    }
    case "float": {
      const n = typeof raw === "number" ? raw : typeof raw === "string" && /^\s*\d+(\.\d+)?\s*$/.test(raw) ? Number(raw) : NaN;
      if (!Number.isFinite(n) || n < spec.min! || n > spec.max!) fail();
      return n;
    }
    case "duration": {
      const n = typeof raw === "number" ? raw : parseDuration(String(raw));
      if (!Number.isInteger(n) || n < spec.min! || n > spec.max!) fail();
      return n;
    }
    case "list": {
      const list = Array.isArray(raw) ? raw : typeof raw === "string" ? raw.split(/\s+/).filter(Boolean) : fail();
      if (!list.every((v) => typeof v === "string")) fail();
      return list;
    }
    case "bool": {
      if (typeof raw === "boolean") return raw;
      const s = String(raw).toLowerCase();
      // The spellings click's BOOL accepts, so a GRANIAN_* value that works there works here.
      if (["1", "true", "t", "yes", "y", "on"].includes(s)) return true;
      if (["0", "false", "f", "no", "n", "off"].includes(s)) return false;
      return fail();
    }
    case "enum": {
      const s = String(raw);
      if (!spec.choices!.includes(s)) fail();
      return s;
    }
    default:
      if (typeof raw !== "string") fail();
      return raw;
  }
}

/**
 * Resolve options once at start-up: explicit values win, then `GRANIAN_*` env vars, then
 * defaults. Everything is validated here so the hot path never re-checks.
 */
export function resolveOptions(
  given: Partial<Record<OptionName, unknown>>,
  env: Record<string, string | undefined> = process.env,
): ResolvedOptions {
  const out: Record<string, unknown> = {};
  if (given.urlPathPrefix === undefined && (given as { rootPath?: unknown }).rootPath !== undefined)
    given = { ...given, urlPathPrefix: (given as { rootPath?: unknown }).rootPath };
  for (const name of Object.keys(OPTIONS) as OptionName[]) {
    const spec: OptionSpec = OPTIONS[name];
    const envName = envOf(name);
    if (given[name] !== undefined) out[name] = parseOption(name, given[name]);
    else if (envName && env[envName] !== undefined && env[envName] !== "")
      out[name] = parseOption(name, env[envName], `${envName}`);
    else out[name] = spec.default;
  }
  if (!out.target) throw new OptionError("missing APP: give the application target as module:attr");
  if (!/^[A-Za-z_][\w.]*(:[A-Za-z_][\w.]*)?$/.test(out.target as string))
    throw new OptionError(`invalid value for APP: ${JSON.stringify(out.target)} (expected module:attr, e.g. main:app)`);
  out.workingDir = resolvePath((out.workingDir as string | undefined) ?? process.cwd());
  const python = (out.python as string | undefined) ?? (env.VIRTUAL_ENV ? `${env.VIRTUAL_ENV}/bin/python` : "python3");
  // A path (not a bare command looked up on PATH) is relative to where we were started, not to
  // the working directory the workers run in.
  out.python = python.includes("/") ? resolvePath(python) : python;
  out.backpressure =
    (out.backpressure as number | undefined) ?? Math.max(1, Math.floor((out.backlog as number) / (out.workers as number)));
  // As Granian: a WSGI worker gets a thread for every other request it may run at once
  // (threads start on demand and idle ones exit); the other interfaces run apps on the loop.
  out.blockingThreads =
    (out.blockingThreads as number | undefined) ??
    (out.interface === Interfaces.WSGI ? Math.max(1, Math.floor((out.backpressure as number) / 2)) : 1);
  if (out.logLevel === "warn") out.logLevel = "warning";
  if (out.logLevel === "notset") out.logLevel = "debug";
  return out as ResolvedOptions;
}
