#!/usr/bin/env node
// granian-ts as a JS entry point (`node bin/granian-ts.mjs`, `bun bin/granian-ts.mjs`); npm and
// bunx install bin/granian-ts, which execs Bun directly. Under Bun the CLI runs in-process.
// Under Node, Bun runs as a child found by bin/granian-ts; this process only passes signals on
// and ends with Bun's exit code (128 + n when signal n ended it).
import { spawn } from "node:child_process";
import { constants } from "node:os";
import { fileURLToPath } from "node:url";

if (process.versions.bun) {
  const { run } = await import(fileURLToPath(new URL("../cli/main.ts", import.meta.url)));
  await run(process.argv.slice(2));
} else {
  const sh = fileURLToPath(new URL("./granian-ts", import.meta.url));
  // Bun gets its own process group, so a signal to our group (Ctrl-C) reaches it once, from
  // us, and it watches us: if we die, even by SIGKILL, it shuts down gracefully.
  const child = spawn("/bin/sh", [sh, ...process.argv.slice(2)], {
    stdio: "inherit",
    detached: true,
    env: { ...process.env, GRANIAN_TS_WATCH_PARENT: "1" },
  });
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR2"]) process.on(sig, () => child.kill(sig));
  child.on("error", (err) => {
    process.stderr.write(`error: could not start Bun: ${err.message}\n`);
    process.exit(127);
  });
  child.on("exit", (code, signal) => process.exit(code ?? 128 + (constants.signals[signal] ?? 0)));
}
