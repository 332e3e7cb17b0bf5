/**
 * Logging: the server's own lines (consola) and the access log, configured once per thread
 * (the main thread and each listener thread) from the resolved options. The access log is an
 * observer the listener hands to the bridge and the static-file handler; with the access log
 * off there is no observer and a request pays nothing for it.
 */
import { consola, formatArgs, LogLevels, type ConsolaReporter, type LogObject } from "./_consola.ts";
import { OptionError, type ResolvedOptions } from "../options.ts";
import { logSettings, type LogSettings } from "./config.ts";
import { compileFormat, DEFAULT_ACCESS_FMT, jsonRecord, type AccessRecord } from "./format.ts";
import { LineSink } from "./_sink.ts";
import { versionOf } from "../_bridge.ts";

export { logSettings, readLogConfig } from "./config.ts";
export { compileFormat, DEFAULT_ACCESS_FMT } from "./format.ts";

const LEVELS: Record<string, number> = {
  critical: LogLevels.fatal,
  error: LogLevels.error,
  warning: LogLevels.warn,
  warn: LogLevels.warn,
  info: LogLevels.info,
  debug: LogLevels.debug,
  notset: LogLevels.debug,
};

/** The embedded handler's one knob (src/handler.ts): a Granian level name onto consola's. */
export function setLogLevel(name: string) {
  consola.level = LEVELS[name] ?? LogLevels.info;
}

const CONSOLA_TO_GRANIAN: Record<string, string> = { fatal: "critical", error: "error", warn: "warning", info: "info", success: "info", ready: "info", start: "info", log: "info", debug: "debug", trace: "debug" };

function jsonReporter(stream: NodeJS.WriteStream): ConsolaReporter {
  return {
    log(obj: LogObject) {
      const message = formatArgs(obj.args);
      stream.write(
        JSON.stringify({ time: obj.date.toISOString(), level: CONSOLA_TO_GRANIAN[obj.type] ?? obj.type, logger: obj.tag || "granian-ts", message }) + "\n",
      );
    },
  };
}

/**
 * Consola copies its reporter list into every tagged logger at creation, and some are created
 * at import, before the options are known; the reporter objects themselves are shared, so the
 * level filter and the JSON form are installed on them, reaching every logger of this thread.
 */
export function configureLogs(o: ResolvedOptions): LogSettings {
  const s = logSettings(o);
  const level = s.enabled ? (LEVELS[s.level] ?? LogLevels.info) : LogLevels.silent;
  consola.level = level;
  const json = s.json ? jsonReporter(process.stderr) : null;
  for (const r of consola.options.reporters) {
    const original = (r as { _original?: ConsolaReporter["log"] })._original ?? r.log.bind(r);
    Object.assign(r, {
      _original: original,
      log: (obj: LogObject, ctx: { options: unknown }) => {
        if (obj.level > level) return;
        if (json) json.log(obj, ctx as never);
        else original(obj, ctx as never);
      },
    });
  }
  return s;
}

/** Start-up checks: the log config file reads, the access-log format compiles. */
export function checkLogOptions(o: ResolvedOptions) {
  logSettings(o);
  if (o.accessLogFmt !== undefined) {
    try {
      compileFormat(o.accessLogFmt);
    } catch (err) {
      throw new OptionError(`invalid value for --access-log-fmt: ${(err as Error).message}`);
    }
  }
}

/** What the bridge and the static handler report about each response (size -1: not known). */
export type ResponseObserver = (req: Request, client: string, status: number, started: number, size: number) => void;

/** The version of a request on a port serving both (the bridge's `versionOf`, from the header order). */
function protocolOf(req: Request): string {
  const names = Object.keys(req.headers.toJSON());
  return "HTTP/" + versionOf("auto", names.includes("host"), names[names.length - 1] ?? "", names.length);
}

/** The access-log observer of a listener, or undefined with the access log off. */
export function accessLog(o: ResolvedOptions, s: LogSettings, scheme: string, http: "auto" | "1" | "2"): { observe: ResponseObserver; sink: LineSink } | undefined {
  if (!s.access || !s.enabled) return undefined;
  const line = s.json ? jsonRecord : compileFormat(o.accessLogFmt ?? DEFAULT_ACCESS_FMT);
  const sink = new LineSink(s.accessStream === "stderr" ? 2 : 1);
  const origin = performance.timeOrigin;
  const observe: ResponseObserver = (req, client, status, started, size) => {
    const url = req.url;
    const p = url.indexOf("/", url.indexOf("//") + 2);
    const q = url.indexOf("?", p);
    const r: AccessRecord = {
      addr: client,
      start: origin + started,
      dt_ms: performance.now() - started,
      status,
      path: p < 0 ? "/" : q < 0 ? url.slice(p) : url.slice(p, q),
      query_string: q < 0 ? "" : url.slice(q + 1),
      method: req.method,
      scheme,
      protocol: http === "2" ? "HTTP/2" : http === "1" ? (req.headers.has("host") ? "HTTP/1.1" : "HTTP/1.0") : protocolOf(req),
      size,
      req,
    };
    sink.push(line(r));
  };
  return { observe, sink };
}
