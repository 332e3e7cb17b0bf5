import type { InterfaceSpec } from "../types.ts";

/** ASGI 3.0 with the lifespan protocol. The scope is built in python/granian_ts/interfaces/asgi.py. */
export default { name: "asgi", lifespan: true } satisfies InterfaceSpec;
