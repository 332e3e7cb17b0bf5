/**
 * Strict parsing of `serve`'s argv, derived from the option table as Granian's click CLI is from
 * its decorators: an option we do not know, a missing value, a value given to a flag or a second
 * APP is an `OptionError` (exit 2, one line), never silently ignored or taken as the APP.
 */
import { OPTIONS, OptionError, flagsOf, parseOption, type OptionName } from "../src/options.ts";

interface Flag {
  readonly name: OptionName;
  readonly bool: boolean;
  /** `--no-x` of a boolean `--x`. */
  readonly negated: boolean;
}

/** Every accepted `--flag` (without the dashes): each option's flags and aliases, `no-` forms of booleans. */
export function knownFlags(): Map<string, Flag> {
  const flags = new Map<string, Flag>();
  for (const name of Object.keys(OPTIONS) as OptionName[]) {
    const spec = OPTIONS[name] as { kind: string; positional?: true };
    if (spec.positional) continue;
    const bool = spec.kind === "bool";
    for (const flag of flagsOf(name)) {
      flags.set(flag, { name, bool, negated: false });
      if (bool) flags.set(`no-${flag}`, { name, bool, negated: true });
    }
  }
  return flags;
}

/** Levenshtein distance, to suggest the flag a typo meant (`--acces-log` → `--access-log`). */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++)
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length]!;
}

function suggestion(key: string, flags: Map<string, Flag>): string {
  let best = "";
  // One typo, two in a long name; more and the hint is noise (`--foo` is not `--loop`).
  let bestDistance = key.length >= 8 ? 3 : 2;
  for (const flag of flags.keys()) {
    const d = distance(key, flag);
    if (d < bestDistance) [best, bestDistance] = [flag, d];
  }
  return best ? ` (did you mean --${best}?)` : "";
}

export interface ServeArgv {
  /** `-h` / `--help` was given. */
  help: boolean;
  /** The options given on the command line, already checked (env and defaults come later). */
  options: Partial<Record<OptionName, unknown>>;
}

export function parseServeArgv(argv: readonly string[]): ServeArgv {
  const flags = knownFlags();
  const options: Partial<Record<OptionName, unknown>> = {};
  const positionals: string[] = [];
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg === "-h" || arg === "--help") {
      help = true;
      continue;
    }
    if (!arg.startsWith("-") || arg === "-") {
      positionals.push(arg);
      continue;
    }
    if (!arg.startsWith("--")) throw new OptionError(`no such option: ${arg}`);
    const eq = arg.indexOf("=");
    const key = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    const flag = flags.get(key);
    if (!flag) throw new OptionError(`no such option: --${key}${suggestion(key, flags)}`);
    if (flag.bool) {
      if (eq >= 0) throw new OptionError(`option --${key} does not take a value`);
      options[flag.name] = !flag.negated;
      continue;
    }
    let value: string;
    if (eq >= 0) value = arg.slice(eq + 1);
    else if (i + 1 < argv.length) value = argv[++i]!;
    else throw new OptionError(`option --${key} requires a value`);
    // Checked here so the message names the flag as typed (an alias too). A repeatable
    // option (kind "list") gathers one value per flag, spaces and all.
    if (OPTIONS[flag.name].kind === "list") options[flag.name] = [...((options[flag.name] as string[] | undefined) ?? []), value];
    else options[flag.name] = parseOption(flag.name, value, `--${key}`);
  }
  if (positionals.length > 1) throw new OptionError(`got unexpected extra argument (${positionals[1]})`);
  if (positionals.length === 1) options.target = positionals[0];
  return { help, options };
}
