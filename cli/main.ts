/** The granian-ts CLI (citty). Errors in options exit 2 with one line; start-up failures exit 1. */
import { defineCommand, runCommand, showUsage } from "citty";
import pkg from "../package.json" with { type: "json" };
import { OptionError } from "../src/options.ts";
import { serve } from "./serve.ts";

export const main = defineCommand({
  meta: { name: "granian-ts", version: pkg.version, description: "A Bun-native HTTP server for Python applications" },
  args: { version: { type: "boolean", description: "Show the version and exit" } },
  subCommands: { serve },
});

/** Under the npx shim (bin/granian-ts.mjs): shut down gracefully when the shim goes away. */
function watchLifeline() {
  const fd = Number(process.env.GRANIAN_TS_LIFELINE_FD);
  delete process.env.GRANIAN_TS_LIFELINE_FD; // not for the Python workers
  if (!Number.isInteger(fd) || fd < 3) return;
  (async () => {
    try {
      for await (const _ of Bun.file(fd).stream());
    } catch {}
    process.kill(process.pid, "SIGTERM");
  })();
}

export async function run(argv = process.argv.slice(2)): Promise<void> {
  watchLifeline();
  if (argv.includes("--version") || argv.includes("-V")) {
    console.log(`granian-ts ${pkg.version} (bun ${Bun.version})`);
    return;
  }
  if (argv.length === 0 || argv[0] === "--help" || argv[0] === "-h") return showUsage(main);
  if (argv[0] === "serve" && (argv.includes("--help") || argv.includes("-h"))) return showUsage(serve, main as never);
  try {
    await runCommand(main, { rawArgs: argv });
  } catch (err) {
    if (err instanceof OptionError || (err as { code?: string })?.code === "EARG") {
      process.stderr.write(`error: ${(err as Error).message}\n`);
      process.exit(2);
    }
    process.stderr.write(`error: ${(err as Error).message ?? err}\n`);
    process.exit(1);
  }
}

if (import.meta.main) await run();
