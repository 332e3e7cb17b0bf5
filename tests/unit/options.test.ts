import { describe, expect, test } from "bun:test";
import { OPTIONS, OptionError, envOf, flagOf, resolveOptions } from "../../src/options.ts";

describe("option table", () => {
  test("defaults follow Granian", () => {
    const o = resolveOptions({ target: "main:app" }, {});
    expect(o.interface).toBe("rsgi");
    expect(o.address).toBe("127.0.0.1");
    expect(o.port).toBe(8000);
    expect(o.workers).toBe(1);
    expect(o.runtimeThreads).toBe(1);
    expect(o.http).toBe("auto");
    expect(o.loop).toBe("auto");
    expect(o.backlog).toBe(1024);
    expect(o.backpressure).toBe(1024);
    expect(o.blockingThreads).toBe(1);
    expect(o.blockingThreadsIdleTimeout).toBe(30);
    expect(o.reload).toBe(false);
    expect(o.python).toBe("python3");
  });

  test("env vars are GRANIAN_* and lose to explicit values", () => {
    expect(envOf("runtimeThreads")).toBe("GRANIAN_RUNTIME_THREADS");
    expect(envOf("address")).toBe("GRANIAN_HOST");
    expect(envOf("target")).toBeUndefined();
    const env = { GRANIAN_WORKERS: "3", GRANIAN_HOST: "0.0.0.0", GRANIAN_RELOAD: "true", VIRTUAL_ENV: "/v" };
    const o = resolveOptions({ target: "m", port: 9000 }, env);
    expect(o.workers).toBe(3);
    expect(o.address).toBe("0.0.0.0");
    expect(o.reload).toBe(true);
    expect(o.port).toBe(9000);
    expect(o.python).toBe("/v/bin/python");
    expect(resolveOptions({ target: "m", python: ".venv/bin/python" }, {}).python).toBe(`${process.cwd()}/.venv/bin/python`);
    expect(resolveOptions({ target: "m", workers: 2 }, env).workers).toBe(2);
    expect(resolveOptions({ target: "m", workers: 4 }, env).backpressure).toBe(256);
  });

  test("blocking threads default per interface, as Granian: backpressure / 2 for WSGI, else 1", () => {
    expect(resolveOptions({ target: "m", interface: "wsgi" }, {}).blockingThreads).toBe(512);
    expect(resolveOptions({ target: "m", interface: "wsgi", workers: 4 }, {}).blockingThreads).toBe(128);
    expect(resolveOptions({ target: "m", interface: "wsgi", backpressure: 1 }, {}).blockingThreads).toBe(1);
    expect(resolveOptions({ target: "m", interface: "wsgi", blockingThreads: 8 }, {}).blockingThreads).toBe(8);
    expect(resolveOptions({ target: "m", interface: "wsgi" }, { GRANIAN_BLOCKING_THREADS: "3" }).blockingThreads).toBe(3);
    expect(resolveOptions({ target: "m", interface: "asgi" }, {}).blockingThreads).toBe(1);
    expect(envOf("blockingThreadsIdleTimeout")).toBe("GRANIAN_BLOCKING_THREADS_IDLE_TIMEOUT");
    expect(resolveOptions({ target: "m" }, { GRANIAN_BLOCKING_THREADS_IDLE_TIMEOUT: "60" }).blockingThreadsIdleTimeout).toBe(60);
    expect(() => resolveOptions({ target: "m", blockingThreadsIdleTimeout: 4 }, {})).toThrow(
      "invalid value for --blocking-threads-idle-timeout: 4 (expected an integer from 5 to 600)",
    );
  });

  test("bad values name the option and what is allowed", () => {
    const bad: [Record<string, unknown>, string][] = [
      [{ workers: "0" }, "invalid value for --workers: \"0\" (expected an integer from 1 to 1024)"],
      [{ port: 70000 }, "invalid value for --port: 70000 (expected an integer from 0 to 65535)"],
      [{ interface: "cgi" }, "invalid value for --interface: \"cgi\" (expected one of asgi, asginl, rsgi, wsgi)"],
      [{ loop: "trio" }, "invalid value for --loop: \"trio\" (expected one of auto, asyncio, uvloop, rloop, winloop)"],
      [{ http: "3" }, "invalid value for --http: \"3\" (expected one of auto, 1, 2)"],
      [{ reload: "maybe" }, "invalid value for --reload: \"maybe\" (expected true or false)"],
    ];
    for (const [given, message] of bad) {
      expect(() => resolveOptions({ target: "m:app", ...given }, {})).toThrow(new OptionError(message));
    }
    expect(() => resolveOptions({ target: "m" }, { GRANIAN_PORT: "x" })).toThrow(
      'invalid value for GRANIAN_PORT: "x" (expected an integer from 0 to 65535)',
    );
    expect(() => resolveOptions({}, {})).toThrow("missing APP");
    expect(() => resolveOptions({ target: "not a target" }, {})).toThrow("invalid value for APP");
  });

  test("durations take seconds or Granian's human form; lists repeat", () => {
    expect(resolveOptions({ target: "m" }, {}).staticPathExpires).toBe(86400);
    for (const [given, secs] of [["90", 90], ["1d", 86400], ["1h30m", 5400], ["2m5s", 125], ["0", 0], [7, 7]] as const)
      expect(resolveOptions({ target: "m", staticPathExpires: given }, {}).staticPathExpires).toBe(secs);
    expect(resolveOptions({ target: "m" }, { GRANIAN_STATIC_PATH_EXPIRES: "6h" }).staticPathExpires).toBe(21600);
    for (const bad of ["soon", "1x", "-1", "1.5h", "h"])
      expect(() => resolveOptions({ target: "m", staticPathExpires: bad }, {})).toThrow("invalid value for --static-path-expires");
    expect(resolveOptions({ target: "m" }, {}).staticPathRoute).toEqual(["/static"]);
    expect(resolveOptions({ target: "m", staticPathMount: ["a", "b"] }, {}).staticPathMount).toEqual(["a", "b"]);
    expect(resolveOptions({ target: "m" }, { GRANIAN_STATIC_PATH_MOUNT: "a  b" }).staticPathMount).toEqual(["a", "b"]);
  });

  test("every option has help, and flags are kebab-case", () => {
    for (const [name, spec] of Object.entries(OPTIONS)) {
      expect(spec.help.length).toBeGreaterThan(10);
      expect(flagOf(name as keyof typeof OPTIONS)).toMatch(/^[a-z][a-z0-9-]*$/);
    }
    expect(flagOf("runtimeThreads")).toBe("runtime-threads");
    expect(flagOf("address")).toBe("host");
  });
});

describe("websocket options", () => {
  test("defaults, Granian's env name, and ranges", () => {
    const o = resolveOptions({ target: "m" }, {});
    expect(o.ws).toBe(true);
    expect(o.wsPingInterval).toBe(0);
    expect(o.wsCompression).toBe(false);
    expect(o.wsMaxMessageSize).toBe(16 * 1024 * 1024);
    expect(envOf("ws")).toBe("GRANIAN_WEBSOCKETS");
    expect(flagOf("wsMaxMessageSize")).toBe("ws-max-message-size");
    expect(resolveOptions({ target: "m" }, { GRANIAN_WEBSOCKETS: "false" }).ws).toBe(false);
    expect(resolveOptions({ target: "m" }, { GRANIAN_WS_PING_INTERVAL: "20" }).wsPingInterval).toBe(20);
    expect(() => resolveOptions({ target: "m", wsPingInterval: 961 }, {})).toThrow(OptionError);
    expect(() => resolveOptions({ target: "m", wsMaxMessageSize: 0 }, {})).toThrow(OptionError);
  });
});
