/**
 * The README's options table, derived from the option table (src/options.ts) like the CLI and
 * the env lookup are. `bun scripts/options-table.ts --write` refreshes README.md; a unit test
 * fails when the README and the table disagree.
 */
import { OPTIONS, envOf, flagsOf, type OptionName } from "./options.ts";

export const TABLE_START = "<!-- options:start (generated from src/options.ts by scripts/options-table.ts) -->";
export const TABLE_END = "<!-- options:end -->";

const cell = (s: string) => s.replace(/\|/g, "\\|");

export function optionsTable(): string {
  const rows = ["| flag | env | default | meaning |", "|---|---|---|---|"];
  for (const name of Object.keys(OPTIONS) as OptionName[]) {
    const spec = OPTIONS[name] as { kind: string; default: unknown; help: string; choices?: readonly string[]; positional?: true };
    if (spec.positional) continue;
    const [own, ...aliases] = flagsOf(name);
    const flag =
      `\`${spec.kind === "bool" ? `--${own} / --no-${own}` : `--${own}`}\`` +
      (aliases.length ? ` (alias ${aliases.map((a) => `\`--${a}\``).join(", ")})` : "") +
      (spec.kind === "list" ? " (repeatable)" : "");
    const dflt =
      spec.default === undefined || (Array.isArray(spec.default) && spec.default.length === 0)
        ? "see meaning"
        : spec.default === "" ? '`""`' : `\`${String(spec.default)}\``;
    const choices = spec.choices ? ` (${spec.choices.map((c) => `\`${c}\``).join(", ")})` : "";
    rows.push(`| ${flag} | \`${envOf(name)}\` | ${dflt} | ${cell(spec.help)}${choices} |`);
  }
  return rows.join("\n");
}

/** Replace the generated block of `readme` with the current table. */
export function withOptionsTable(readme: string): string {
  const a = readme.indexOf(TABLE_START);
  const b = readme.indexOf(TABLE_END);
  if (a < 0 || b < a) throw new Error("README.md has no options table markers");
  return readme.slice(0, a + TABLE_START.length) + "\n" + optionsTable() + "\n" + readme.slice(b);
}
