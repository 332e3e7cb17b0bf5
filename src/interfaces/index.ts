/**
 * The interface registry: adding an interface is one file here, one in
 * python/granian_ts/interfaces, and a line in each registry.
 */
import type { InterfaceSpec } from "../types.ts";
import { OptionError } from "../options.ts";
import asgi from "./asgi.ts";
import asginl from "./asginl.ts";
import wsgi from "./wsgi.ts";
import rsgi from "./rsgi.ts";

export const INTERFACES: Readonly<Record<string, InterfaceSpec>> = { asgi, asginl, wsgi, rsgi };

export function getInterface(name: string): InterfaceSpec {
  const spec = INTERFACES[name];
  if (!spec)
    throw new OptionError(
      `--interface ${name} is not implemented yet in granian-ts (available: ${Object.keys(INTERFACES).join(", ")})`,
    );
  return spec;
}
