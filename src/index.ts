export { Granian } from "./server.ts";
export { Interfaces, HTTPModes, Loops, OPTIONS, OptionError, resolveOptions } from "./options.ts";
export type { GranianOptions, ResolvedOptions, ServerHandle, InterfaceSpec } from "./types.ts";
