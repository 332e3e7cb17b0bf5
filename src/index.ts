export { Granian } from "./server.ts";
export { createHandler } from "./handler.ts";
export { Interfaces, HTTPModes, Loops, OPTIONS, OptionError, resolveOptions } from "./options.ts";
export type { GranianOptions, ResolvedOptions, ServerHandle, InterfaceSpec, HandlerOptions, PythonHandler } from "./types.ts";
