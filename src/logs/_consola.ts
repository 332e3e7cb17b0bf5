/**
 * The server's logger: consola's core with a plain reporter of our own, one per thread.
 *
 * Not `import { consola } from "consola"`: that entry loads the fancy terminal reporter and,
 * for it, node:tty and node:util, about 12 MiB of RSS in every thread that imports it (the
 * main thread and each listener), for icons and colours that a server's log (journald, docker,
 * a file) does not want. The lines are the ones consola's basic reporter writes,
 * `[info] [granian-ts] message`; errors with their stack, relative to the working directory.
 * An instance of our own also leaves an embedding app's global `consola` alone.
 */
import { createConsola, LogLevels, type ConsolaReporter, type LogObject } from "consola/core";

export { LogLevels, type ConsolaReporter, type LogObject };

function formatError(err: Error, depth = 0): string {
  const cwd = process.cwd() + "/";
  const indent = "  ".repeat(depth + 1);
  const message = String(err.message ?? err);
  // The stack starts with the message; what follows are the frames.
  const frames = (err.stack ?? "").split("\n").slice(message.split("\n").length);
  const stack = frames.map((l) => indent + l.trim().replace("file://", "").replace(cwd, "")).join("\n");
  const cause = err.cause instanceof Error ? `\n\n${"  ".repeat(depth + 1)}[cause]: ${formatError(err.cause, depth + 1)}` : "";
  return `${message}\n${stack}${cause}`;
}

/** A log call's arguments as one line of text: strings as they are, errors with their stack. */
export function formatArgs(args: readonly unknown[]): string {
  return args
    .map((a) =>
      typeof a === "string" ? a : a instanceof Error || typeof (a as Error)?.stack === "string" ? formatError(a as Error) : Bun.inspect(a, { colors: false }),
    )
    .join(" ");
}

const bracket = (x: string | undefined) => (x ? `[${x}]` : "");

const plainReporter: ConsolaReporter = {
  log(obj: LogObject) {
    const line = [bracket(obj.type), bracket(obj.tag), formatArgs(obj.args)].filter(Boolean).join(" ") + "\n";
    // As consola's basic reporter: fatal and error lines on stderr, the rest on stdout.
    (obj.level < 2 ? process.stderr : process.stdout).write(line);
  },
};

export const consola = createConsola({ level: LogLevels.info, reporters: [plainReporter] });
