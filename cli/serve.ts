/** `granian-ts serve`: argv → options → `Granian`. Everything else lives in src/. */
import { defineCommand, type ArgsDef } from "citty";
import { consola } from "../src/logs/_consola.ts";
import { Granian } from "../src/server.ts";
import { OPTIONS, envOf, flagsOf, type OptionName } from "../src/options.ts";
import { watchParent } from "./_parent.ts";

/** citty args derived from the option table, for the usage text (cli/_argv.ts parses argv). */
export const serveArgs: ArgsDef = Object.fromEntries(
  (Object.keys(OPTIONS) as OptionName[]).map((name) => {
    const spec = OPTIONS[name] as (typeof OPTIONS)[OptionName] & { choices?: readonly string[] };
    if ("positional" in spec && spec.positional)
      return [name, { type: "positional", required: false, description: spec.help, valueHint: "APP" }];
    const [flag, ...aliases] = flagsOf(name);
    const extra = [
      spec.choices ? `[${spec.choices.join("|")}]` : "",
      spec.default !== undefined && spec.default !== "" ? `(default: ${spec.default})` : "",
      `[env: ${envOf(name)}]`,
      aliases.length ? `[alias: ${aliases.map((a) => `--${a}`).join(", ")}]` : "",
    ].filter(Boolean).join(" ");
    const bool = spec.kind === "bool";
    return [
      flag,
      {
        type: bool ? "boolean" : "string",
        description: `${spec.help} ${extra}`,
        // Every boolean has its --no- form, as Granian's `--x/--no-x`.
        ...(bool ? { negativeDescription: `Turn --${flag} off` } : {}),
      },
    ];
  }),
);

export const serve = defineCommand({
  meta: { name: "serve", description: "Serve a Python ASGI/RSGI/WSGI application" },
  args: serveArgs,
});

/** Run the server until a signal (or the command that started us going away) stops it. */
export async function runServe(options: Partial<Record<OptionName, unknown>>): Promise<never> {
  const server = new Granian(options as never);
  let stopping = false;
  const onSignal = (why: string) => {
    if (stopping) {
      consola.warn(`${why} again: exiting now`);
      process.exit(1);
    }
    stopping = true;
    consola.withTag("granian-ts").info(`${why}: shutting down`);
    // Stopped before it served (during start-up): not a clean run.
    const served = server.serving;
    server.stop().then(() => process.exit(served ? 0 : 1));
  };
  process.on("SIGINT", () => onSignal("SIGINT received"));
  process.on("SIGTERM", () => onSignal("SIGTERM received"));
  // As Granian: SIGHUP restarts the workers one at a time (a deploy without dropped requests).
  process.on("SIGHUP", () => void server.reload());
  watchParent(() => onSignal("the command that started us is gone"));
  await server.serve();
  await server.closed;
  if (!stopping) process.exit(1); // the server stopped on its own: a worker could not be respawned
  return new Promise<never>(() => {}); // exiting: stop() resolves into process.exit
}
