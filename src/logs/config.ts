/**
 * The log settings from --log, --log-level, --log-format and --log-config, resolved once.
 * --log-config takes Granian's file: a Python `logging.config.dictConfig` in JSON. The Python
 * workers apply it as it is (it configures the app's loggers too, as in Granian); on the Bun
 * side what maps is read: the `granian.access` logger's level (above INFO turns the access log
 * off) and its handler's stream. `_granian`'s level is --log-level's, as Granian sets it over
 * the file's.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { OptionError, type ResolvedOptions } from "../options.ts";

export interface LogSettings {
  enabled: boolean;
  level: string;
  json: boolean;
  access: boolean;
  /** Where access lines go: Granian's default handler writes them to stdout. */
  accessStream: "stdout" | "stderr";
}

const PY_LEVELS: Record<string, string> = {
  CRITICAL: "critical", FATAL: "critical", ERROR: "error", WARNING: "warning", WARN: "warning", INFO: "info", DEBUG: "debug", NOTSET: "debug",
  50: "critical", 40: "error", 30: "warning", 20: "info", 10: "debug", 0: "debug",
};

type DictConfig = {
  loggers?: Record<string, { level?: string | number; handlers?: string[] }>;
  handlers?: Record<string, { stream?: string }>;
};

export function readLogConfig(path: string): DictConfig {
  let text: string;
  try {
    text = readFileSync(resolve(path), "utf8");
  } catch (err) {
    throw new OptionError(`invalid value for --log-config: ${JSON.stringify(path)} (${(err as NodeJS.ErrnoException).code ?? "unreadable"})`);
  }
  let cfg: unknown;
  try {
    cfg = JSON.parse(text);
  } catch (err) {
    throw new OptionError(`invalid value for --log-config: ${JSON.stringify(path)} is not JSON (${(err as Error).message})`);
  }
  if (typeof cfg !== "object" || cfg === null || Array.isArray(cfg))
    throw new OptionError(`invalid value for --log-config: ${JSON.stringify(path)} (expected a JSON object, Python's logging dictConfig)`);
  return cfg as DictConfig;
}

const levelOf = (v: string | number | undefined) => (v === undefined ? undefined : PY_LEVELS[String(v).toUpperCase()]);

export function logSettings(o: ResolvedOptions): LogSettings {
  const s: LogSettings = { enabled: o.log, level: o.logLevel, json: o.logFormat === "json", access: o.accessLog, accessStream: "stdout" };
  if (o.logConfig === undefined) return s;
  const cfg = readLogConfig(o.logConfig);
  const access = cfg.loggers?.["granian.access"];
  if (access) {
    const lvl = levelOf(access.level);
    if (lvl && lvl !== "info" && lvl !== "debug") s.access = false;
    const stream = access.handlers?.map((h) => cfg.handlers?.[h]?.stream).find(Boolean);
    if (stream === "ext://sys.stderr") s.accessStream = "stderr";
  }
  return s;
}
