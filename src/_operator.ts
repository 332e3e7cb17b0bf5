/**
 * The operator's options around the server: --pid-file, --env-files, and the Granian options
 * that mean nothing here (accepted so command lines carry over, one warning line each).
 */
import { existsSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { consola } from "./logs/_consola.ts";
import { OPTIONS, OptionError, flagOf, type OptionName, type ResolvedOptions } from "./options.ts";

/** Granian options with no effect here, and why. */
const NO_EFFECT: Partial<Record<OptionName, string>> = {
  runtimeMode: "each listener thread runs its own Bun event loop (--runtime-threads)",
  runtimeBlockingThreads: "Bun does its file and socket I/O itself",
};

export function warnNoEffect(o: ResolvedOptions) {
  const log = consola.withTag("granian-ts");
  // Granian's own word for it, and ours (python/granian_ts/tasks.py).
  if (o.taskImpl === "rust") log.warn("--task-impl rust is experimental: request coroutines run without asyncio Tasks (Python < 3.12)");
  if (o.loop === "rloop" || o.loop === "winloop")
    log.warn(`--loop ${o.loop} is accepted for Granian compatibility and not available here: the workers use --loop auto (uvloop when installed)`);
  for (const [name, why] of Object.entries(NO_EFFECT) as [OptionName, string][])
    if (o[name] !== OPTIONS[name].default) log.warn(`--${flagOf(name)} is accepted for Granian compatibility and changes nothing: ${why}`);
}

/**
 * The variables of --env-files, in order, as Granian loads them (python-dotenv): a later file
 * overrides an earlier one, and neither overrides what the environment already has. `${VAR}`
 * expands from the values before it and the environment.
 */
export function readEnvFiles(files: readonly string[], env: Record<string, string | undefined> = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of files) {
    let text: string;
    try {
      text = readFileSync(resolve(f), "utf8");
    } catch (err) {
      throw new OptionError(`invalid value for --env-files: ${JSON.stringify(f)} (${(err as NodeJS.ErrnoException).code ?? "unreadable"})`);
    }
    // node:util only with --env-files: it costs about 1.5 MiB of RSS in the thread that imports it.
    const { parseEnv } = require("node:util") as typeof import("node:util");
    for (const [k, v] of Object.entries(parseEnv(text))) {
      if (env[k] !== undefined) continue;
      out[k] = (v ?? "").replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => out[name] ?? env[name] ?? "");
    }
  }
  return out;
}

/** Apply once, before the workers start: they inherit the variables. */
export function loadEnvFiles(o: ResolvedOptions) {
  Object.assign(process.env, readEnvFiles(o.envFiles));
}

/** The pid file, Granian's way: refuse when it names a live other process, remove only our own. */
export class PidFile {
  private readonly path: string;

  constructor(path: string) {
    this.path = resolve(path);
  }

  write() {
    if (existsSync(this.path)) {
      const pid = Number(readFileSync(this.path, "utf8").trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid))
        throw new OptionError(`invalid value for --pid-file: ${this.path} already exists for the running process ${pid}`);
    }
    try {
      writeFileSync(this.path, String(process.pid));
    } catch (err) {
      throw new OptionError(`invalid value for --pid-file: ${this.path} (${(err as NodeJS.ErrnoException).code ?? "unwritable"})`);
    }
  }

  remove() {
    try {
      if (Number(readFileSync(this.path, "utf8").trim()) === process.pid) unlinkSync(this.path);
    } catch {}
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
