/**
 * Every option of the table through the real CLI: listed by `serve --help` with its env var,
 * its env var read, and a bad value refused (exit 2, one line naming the flag or the variable).
 * Derived from OPTIONS, so an option added later is walked too; a new kind of option fails here
 * until it gets its own checks.
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { knownFlags } from "../../cli/_argv.ts";
import { OPTIONS, envOf, flagsOf, resolveOptions, type OptionName } from "../../src/options.ts";

const BIN = join(import.meta.dir, "../../bin/granian-ts.mjs");
type Spec = { kind: string; default: unknown; min?: number; max?: number; choices?: readonly string[]; positional?: true };
const NAMES = (Object.keys(OPTIONS) as OptionName[]).filter((n) => !(OPTIONS[n] as Spec).positional);
/** Kinds whose values are numbers in [min, max] (a duration is whole seconds, or 1h30m-style). */
const NUMERIC = ["int", "float", "duration"];

async function cli(args: string[], env: Record<string, string> = {}) {
  const proc = Bun.spawn([process.execPath, BIN, ...args], { stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { stdout, stderr, code };
}

/** Refused with exit 2 and exactly one line that names `what` (a flag or an env var). */
async function expectRefused(args: string[], what: string, env: Record<string, string> = {}) {
  const r = await cli(args, env);
  const lines = r.stderr.trim().split("\n");
  expect({ args, env, code: r.code, lines: lines.length }).toEqual({ args, env, code: 2, lines: 1 });
  expect(lines[0]).toStartWith("error: ");
  expect(lines[0]).toContain(what);
  expect(r.stdout).toBe(""); // nothing started
}

/** A valid value that is not the default, as the CLI and the environment spell it. */
function otherValue(name: OptionName): string {
  const spec = OPTIONS[name] as Spec;
  if (NUMERIC.includes(spec.kind)) {
    const v = Math.floor(spec.min!) + 1;
    return String(spec.default === v ? v + 1 : v);
  }
  switch (spec.kind) {
    case "enum":
      return spec.choices!.find((c) => c !== spec.default)!;
    case "bool":
      return spec.default === true ? "false" : "true";
    case "string":
      return name === "workingDir" ? "/tmp" : "/x";
    case "list":
      return "/a";
    default:
      throw new Error(`no checks for options of kind ${spec.kind} (${name}): add them here`);
  }
}

/** A valid value other than `otherValue`. */
function secondValue(name: OptionName): string {
  const spec = OPTIONS[name] as Spec;
  if (NUMERIC.includes(spec.kind)) return String(Number(otherValue(name)) + 1);
  switch (spec.kind) {
    case "enum":
      return spec.choices!.find((c) => c !== otherValue(name))!;
    case "bool":
      return otherValue(name) === "true" ? "false" : "true";
    case "string":
      return "/y";
    case "list":
      return "/b";
    default:
      throw new Error(`no checks for options of kind ${spec.kind} (${name}): add them here`);
  }
}

describe("every option in the table", () => {
  test("serve --help lists each flag, its aliases, its --no- form and its env var", async () => {
    const r = await cli(["serve", "--help"]);
    expect(r.code).toBe(0);
    const help = r.stdout.replace(/\x1b\[[0-9;]*m/g, "");
    for (const name of NAMES) {
      for (const flag of flagsOf(name)) expect(help).toContain(`--${flag}`);
      if ((OPTIONS[name] as Spec).kind === "bool") expect(help).toContain(`--no-${flagsOf(name)[0]}`);
      expect(help).toContain(`[env: ${envOf(name)}]`);
    }
  });

  test("each env var is read, and loses to an explicit value", () => {
    const target = "m:app";
    for (const name of NAMES) {
      const env = { [envOf(name)!]: otherValue(name) };
      const fromEnv = resolveOptions({ target }, env)[name];
      const dflt = resolveOptions({ target }, {})[name];
      expect({ name, value: fromEnv }).toEqual({ name, value: resolveOptions({ target, [name]: otherValue(name) }, {})[name] });
      expect({ name, value: fromEnv }).not.toEqual({ name, value: dflt });
      const explicit = { target, [name]: secondValue(name) };
      expect({ name, value: resolveOptions(explicit, env)[name] }).toEqual({ name, value: resolveOptions(explicit, {})[name] });
    }
  });

  test("each flag parses its value on the command line (a bad APP is refused after all flags were read)", async () => {
    const args = NAMES.flatMap((name) => {
      const spec = OPTIONS[name] as Spec;
      const flag = `--${flagsOf(name)[0]}`;
      return spec.kind === "bool" ? [otherValue(name) === "true" ? flag : `--no-${flagsOf(name)[0]}`] : [flag, otherValue(name)];
    });
    await expectRefused(["serve", ...args, "not an app"], "APP");
  });

  test("a bad value on the command line names the flag", async () => {
    const cases: [string[], string][] = [];
    for (const name of NAMES) {
      const spec = OPTIONS[name] as Spec;
      for (const flag of flagsOf(name).map((f) => `--${f}`)) {
        if (NUMERIC.includes(spec.kind)) {
          cases.push([[flag, "x"], flag], [[flag, String(spec.max! + 1)], flag], [[flag, String(spec.min! - 1)], flag]);
          if (spec.kind === "duration") cases.push([[flag, "1h30x"], flag]);
          continue;
        }
        switch (spec.kind) {
          case "enum":
            cases.push([[flag, "no-such-choice"], flag]);
            break;
          case "bool":
            cases.push([[`${flag}=maybe`], flag]);
            break;
          case "string":
          case "list":
            cases.push([[flag], flag]); // no value
            break;
          default:
            throw new Error(`no checks for options of kind ${spec.kind} (${name}): add them here`);
        }
      }
    }
    await Promise.all(cases.map(([args, what]) => expectRefused(["serve", ...args, ...(args.length === 2 ? ["m:app"] : [])], what)));
  }, 60_000);

  test("a bad value in an env var names the variable", async () => {
    const cases: [string, string][] = [];
    for (const name of NAMES) {
      const spec = OPTIONS[name] as Spec;
      const env = envOf(name)!;
      if (NUMERIC.includes(spec.kind)) cases.push([env, "x"], [env, String(spec.max! + 1)]);
      else if (spec.kind === "enum") cases.push([env, "no-such-choice"]);
      else if (spec.kind === "bool") cases.push([env, "maybe"]);
      else if (spec.kind !== "string" && spec.kind !== "list") throw new Error(`no checks for options of kind ${spec.kind} (${name}): add them here`);
    }
    await Promise.all(cases.map(([env, value]) => expectRefused(["serve", "m:app"], env, { [env]: value })));
  }, 60_000);
});

describe("unknown options", () => {
  test("exit 2 with exactly one line, and the value after one is never taken as the APP", async () => {
    for (const args of [["--foo"], ["serve", "--foo"], ["serve", "--foo", "main:app"], ["serve", "--foo", "bar", "main:app"], ["serve", "--foo=1", "main:app"]]) {
      const r = await cli(args);
      expect({ args, code: r.code, stderr: r.stderr }).toEqual({ args, code: 2, stderr: "error: no such option: --foo\n" });
    }
  });

  test("a typo is not a server: --acces-log exits 2 and says what was meant", async () => {
    const r = await cli(["serve", "--interface", "asgi", "--acces-log", "main:app"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("error: no such option: --acces-log (did you mean --access-log?)\n");
  });

  test("short options, values for flags, missing values and a second APP", async () => {
    const bad: [string[], string][] = [
      [["serve", "-x", "main:app"], "error: no such option: -x"],
      [["serve", "--reload=yes", "main:app"], "error: option --reload does not take a value"],
      [["serve", "main:app", "--port"], "error: option --port requires a value"],
      [["serve", "main:app", "other:app"], "error: got unexpected extra argument (other:app)"],
    ];
    for (const [args, line] of bad) {
      const r = await cli(args);
      expect({ args, code: r.code, stderr: r.stderr }).toEqual({ args, code: 2, stderr: `${line}\n` });
    }
  });

  test("every --no- form is known, and only for booleans", () => {
    const flags = knownFlags();
    for (const name of NAMES)
      expect(flags.has(`no-${flagsOf(name)[0]}`)).toBe((OPTIONS[name] as Spec).kind === "bool");
  });
});
