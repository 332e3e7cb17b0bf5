import type { InterfaceSpec } from "../types.ts";

/** ASGI without lifespan: the app never sees a lifespan scope. */
export default { name: "asginl", lifespan: false } satisfies InterfaceSpec;
