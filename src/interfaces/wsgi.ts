import type { InterfaceSpec } from "../types.ts";

/**
 * WSGI (PEP 3333): the app runs on --blocking-threads threads per worker, never on the event
 * loop. The environ is built in python/granian_ts/interfaces/wsgi.py. WSGI has no lifespan.
 */
export default { name: "wsgi", lifespan: false } satisfies InterfaceSpec;
