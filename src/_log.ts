import { consola, LogLevels } from "consola";

/** Map Granian's log level names onto consola's. */
const LEVELS: Record<string, number> = {
  critical: LogLevels.fatal,
  error: LogLevels.error,
  warning: LogLevels.warn,
  warn: LogLevels.warn,
  info: LogLevels.info,
  debug: LogLevels.debug,
};

export function setLogLevel(name: string) {
  consola.level = LEVELS[name] ?? LogLevels.info;
}
