// Print the README's options table, or with --write put it into README.md.
import { join } from "node:path";
import { optionsTable, withOptionsTable } from "../src/_docs.ts";

const readmePath = join(import.meta.dir, "../README.md");
if (process.argv.includes("--write")) {
  await Bun.write(readmePath, withOptionsTable(await Bun.file(readmePath).text()));
} else {
  console.log(optionsTable());
}
