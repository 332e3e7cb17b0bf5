/** `granian-ts serve`: argv → options → `Granian`. Everything else lives in src/. */
import { defineCommand, type ArgsDef } from "citty";
import { consola } from "consola";
import { Granian } from "../src/server.ts";
import { OPTIONS, envOf, flagOf, type OptionName } from "../src/options.ts";

/** citty args derived from the option table (no defaults here: env vars must get their turn). */
export const serveArgs: ArgsDef = Object.fromEntries(
  (Object.keys(OPTIONS) as OptionName[]).map((name) => {
    const spec = OPTIONS[name] as (typeof OPTIONS)[OptionName] & { choices?: readonly string[] };
    if ("positional" in spec && spec.positional)
      return [name, { type: "positional", required: false, description: spec.help, valueHint: "APP" }];
    const extra = [
      spec.choices ? `[${spec.choices.join("|")}]` : "",
      spec.default !== undefined && spec.default !== "" ? `(default: ${spec.default})` : "",
      `[env: ${envOf(name)}]`,
    ].filter(Boolean).join(" ");
    return [
      flagOf(name),
      { type: spec.kind === "bool" ? "boolean" : "string", description: `${spec.help} ${extra}` },
    ];
  }),
);

/** Turn parsed argv into API options (only what was given). */
export function argsToOptions(args: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of Object.keys(OPTIONS) as OptionName[]) {
    const v = args[name === "target" ? "target" : flagOf(name)];
    if (v !== undefined) out[name] = v;
  }
  return out;
}

export const serve = defineCommand({
  meta: { name: "serve", description: "Serve a Python ASGI/RSGI/WSGI application" },
  args: serveArgs,
  async run({ args }) {
    const server = new Granian(argsToOptions(args) as never);
    let stopping = false;
    const onSignal = (sig: string) => {
      if (stopping) {
        consola.warn(`${sig} again: exiting now`);
        process.exit(1);
      }
      stopping = true;
      consola.withTag("granian-ts").info(`${sig} received: shutting down`);
      // Stopped before it served (during start-up): not a clean run.
      const served = server.serving;
      server.stop().then(() => process.exit(served ? 0 : 1));
    };
    process.on("SIGINT", () => onSignal("SIGINT"));
    process.on("SIGTERM", () => onSignal("SIGTERM"));
    // As Granian: SIGHUP restarts the workers one at a time (a deploy without dropped requests).
    process.on("SIGHUP", () => void server.reload());
    await server.serve();
    await server.closed;
    if (!stopping) process.exit(1); // the server stopped on its own: a worker could not be respawned
  },
});
