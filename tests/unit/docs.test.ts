import { expect, test } from "bun:test";
import { join } from "node:path";
import { withOptionsTable } from "../../src/_docs.ts";

test("README's options table is the one derived from src/options.ts", async () => {
  const readme = await Bun.file(join(import.meta.dir, "../../README.md")).text();
  // On failure: bun scripts/options-table.ts --write
  expect(readme).toBe(withOptionsTable(readme));
});
