import { expect, test } from "bun:test";
import * as api from "../../src/index.ts";

test("public exports", () => {
  expect(Object.keys(api).sort()).toEqual(["Granian", "HTTPModes", "Interfaces", "Loops", "OPTIONS", "OptionError", "createHandler", "resolveOptions"]);
  expect(api.Interfaces).toEqual({ ASGI: "asgi", ASGINL: "asginl", RSGI: "rsgi", WSGI: "wsgi" });
  expect(api.HTTPModes).toEqual({ auto: "auto", http1: "1", http2: "2" });
  expect(api.Loops).toEqual({ auto: "auto", asyncio: "asyncio", uvloop: "uvloop" });
});
