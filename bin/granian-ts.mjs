#!/usr/bin/env node
// The granian-ts command. Under Bun (bunx) it runs the CLI in-process; under Node (npx) it
// runs the same CLI with the Bun binary that the `bun` npm dependency installed.
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const cli = fileURLToPath(new URL("../cli/main.ts", import.meta.url));

if (process.versions.bun) {
  const { run } = await import(cli);
  await run(process.argv.slice(2));
} else {
  const require = createRequire(import.meta.url);
  let bun;
  try {
    bun = require.resolve("bun/bin/bun.exe");
  } catch {
    bun = "bun";
  }
  // fd 3 is a lifeline: Bun shuts down when it reads EOF there, i.e. when this process is
  // gone, even killed by SIGKILL, so the server never outlives the command that started it.
  const child = spawn(bun, [cli, ...process.argv.slice(2)], {
    stdio: ["inherit", "inherit", "inherit", "pipe"],
    env: { ...process.env, GRANIAN_TS_LIFELINE_FD: "3" },
  });
  // Forward termination signals; SIGINT from a terminal already reaches the whole group.
  for (const sig of ["SIGTERM", "SIGHUP"]) process.on(sig, () => child.kill(sig));
  process.on("SIGINT", () => {});
  child.on("exit", (code, signal) => process.exit(code ?? (signal ? 128 + 1 : 1)));
}
