/**
 * Every option of the table, walked through the three ways in: `--help` lists it with its
 * env variable, the env variable sets it, and a bad value (flag or env) exits 2 naming it.
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { OPTIONS, envOf, flagOf, resolveOptions, type OptionName } from "../../src/options.ts";

const BIN = join(import.meta.dir, "../../bin/granian-ts.mjs");
const NAMES = (Object.keys(OPTIONS) as OptionName[]).filter((n) => !("positional" in OPTIONS[n]));

async function cli(args: string[], env: Record<string, string> = {}) {
  const proc = Bun.spawn([process.execPath, BIN, ...args], { stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { stdout, stderr, code };
}

type Spec = { kind: string; default: unknown; min?: number; max?: number; choices?: readonly string[] };

/** A value the option accepts, other than its default where possible. */
function good(spec: Spec): [string, unknown] {
  if (spec.kind === "int" || spec.kind === "float") return [String(spec.max), spec.max];
  if (spec.kind === "duration") return ["1m", 60 >= spec.min! && 60 <= spec.max! ? 60 : spec.min];
  if (spec.kind === "bool") return [spec.default ? "false" : "true", !spec.default];
  if (spec.kind === "enum") {
    const c = spec.choices!.find((x) => x !== spec.default && x !== "warn") ?? spec.choices![0]!;
    return [c, c];
  }
  return ["some-value", "some-value"];
}

/** A value it refuses, and what the error says it expected; none for free strings. */
function bad(spec: Spec): [string, string] | null {
  if (spec.kind === "int") return [String(spec.max! + 1), `an integer from ${spec.min} to ${spec.max}`];
  if (spec.kind === "float") return [String(spec.max! + 1), `a number from ${spec.min} to ${spec.max}`];
  if (spec.kind === "duration") return ["soon", `seconds from ${spec.min} to ${spec.max}, or a duration like 1h30m`];
  if (spec.kind === "bool") return ["maybe", "true or false"];
  if (spec.kind === "enum") return ["nope", `one of ${spec.choices!.join(", ")}`];
  return null;
}

describe("every option", () => {
  test("--help lists each flag with its env variable", async () => {
    const r = await cli(["serve", "--help"]);
    const out = r.stdout + r.stderr;
    for (const name of NAMES) {
      expect(out).toContain(`--${flagOf(name)}`);
      expect(out).toContain(envOf(name)!);
    }
  });

  test("each env variable sets its option", () => {
    for (const name of NAMES) {
      const [raw, value] = good(OPTIONS[name] as Spec);
      let o: Record<string, unknown>;
      try {
        o = resolveOptions({ target: "main:app" }, { [envOf(name)!]: raw }) as Record<string, unknown>;
      } catch (err) {
        throw new Error(`${envOf(name)}=${raw}: ${(err as Error).message}`);
      }
      // --log-level warn is spelled warning once resolved; python is resolved to a path.
      if (name === "python" || name === "workingDir") continue;
      expect([name, o[name]]).toEqual([name, value]);
    }
  });

  for (const name of NAMES) {
    const b = bad(OPTIONS[name] as Spec);
    if (!b) continue;
    test(`a bad --${flagOf(name)} and ${envOf(name)} exit 2 naming it`, async () => {
      const [raw, expected] = b;
      // A boolean flag takes no value (--ws / --no-ws): only its env variable can be bad.
      if (OPTIONS[name].kind !== "bool") {
        const viaFlag = await cli(["serve", `--${flagOf(name)}`, raw, "main:app"]);
        expect(viaFlag.code).toBe(2);
        expect(viaFlag.stderr.trim()).toBe(`error: invalid value for --${flagOf(name)}: ${JSON.stringify(raw)} (expected ${expected})`);
      }
      const viaEnv = await cli(["serve", "main:app"], { [envOf(name)!]: raw });
      expect(viaEnv.code).toBe(2);
      expect(viaEnv.stderr.trim()).toBe(`error: invalid value for ${envOf(name)}: ${JSON.stringify(raw)} (expected ${expected})`);
    });
  }
});
