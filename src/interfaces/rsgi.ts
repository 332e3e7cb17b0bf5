import type { InterfaceSpec } from "../types.ts";

/**
 * RSGI 1.6 (Granian's interface). No lifespan protocol: the app's `__rsgi_init__` and
 * `__rsgi_del__` run at worker startup and shutdown (python/granian_ts/interfaces/rsgi.py).
 */
export default { name: "rsgi", lifespan: false } satisfies InterfaceSpec;
