/**
 * The granian-ts CLI. `granian-ts serve [OPTIONS] APP`, or as Granian `granian-ts [OPTIONS] APP`.
 * Errors in options exit 2 with one line; start-up failures exit 1. Help and version print and
 * return, so the process ends at once whatever started it.
 */
import { defineCommand, showUsage } from "citty";
import pkg from "../package.json" with { type: "json" };
import { OptionError } from "../src/options.ts";
import { parseServeArgv } from "./_argv.ts";
import { runServe, serve } from "./serve.ts";

export const main = defineCommand({
  meta: { name: "granian-ts", version: pkg.version, description: "A Bun-native HTTP server for Python applications" },
  args: { version: { type: "boolean", description: "Show the version and exit" } },
  subCommands: { serve },
});

export async function run(argv = process.argv.slice(2)): Promise<void> {
  const [first] = argv;
  if (first === "--version" || first === "-V") {
    console.log(`granian-ts ${pkg.version} (bun ${Bun.version})`);
    return;
  }
  if (first === undefined || first === "--help" || first === "-h") return showUsage(main);
  try {
    const { help, options } = parseServeArgv(first === "serve" ? argv.slice(1) : argv);
    if (help) return showUsage(serve, main as never);
    await runServe(options);
  } catch (err) {
    const message = (err as Error)?.message ?? String(err);
    process.stderr.write(`error: ${message}\n`);
    process.exit(err instanceof OptionError ? 2 : 1);
  }
}

if (import.meta.main) await run();
