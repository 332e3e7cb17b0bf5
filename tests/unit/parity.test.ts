import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { OPTIONS, envOf, flagOf, type OptionName } from "../../src/options.ts";

/**
 * Every option of Granian's CLI (the pinned granian in .venv, requirements-dev.txt) is in the
 * option table with its flag and env var. PENDING would hold any not landed yet (none now).
 */
const PENDING = new Set<string>([]);

const python = join(import.meta.dir, "../../.venv/bin/python");
const LIST = `
from granian.cli import cli
for p in cli.params:
    if p.name not in ("app", "version"):
        print(p.opts[0], "GRANIAN_" + p.name.upper() if p.envvar is None else p.envvar, p.multiple)
`;

describe("Granian option parity", () => {
  test("every Granian option has our flag and env var, or is pending with its owner", () => {
    const proc = Bun.spawnSync([python, "-c", LIST]);
    expect(proc.exitCode).toBe(0);
    const granian = proc.stdout.toString().trim().split("\n").map((l) => l.split(" "));
    expect(granian.length).toBeGreaterThan(60);
    const ours = new Map((Object.keys(OPTIONS) as OptionName[]).map((n) => [`--${flagOf(n)}`, n]));
    const missing: string[] = [];
    for (const [flag, , multiple] of granian) {
      const name = ours.get(flag!);
      if (!name) {
        if (!PENDING.has(flag!)) missing.push(flag!);
        continue;
      }
      // click derives GRANIAN_<PARAM NAME>; our env var must be the one Granian reads
      const spec = OPTIONS[name] as { kind: string };
      // --ssl-crl (helper "h2tls") takes one file here where Granian repeats it.
      if (multiple === "True" && spec.kind !== "list" && flag !== "--ssl-crl") missing.push(`${flag} (repeatable in Granian)`);
    }
    expect(missing).toEqual([]);
    for (const [flag, env] of granian) {
      const name = ours.get(flag!);
      if (name) expect(`${flag} ${envOf(name)}`).toBe(`${flag} ${env}`);
    }
  });
});
