import { describe, expect, test } from "bun:test";
import { compileFormat, DEFAULT_ACCESS_FMT, type AccessRecord } from "../../src/logs/format.ts";
import { proxyResolver, trustList } from "../../src/_proxy.ts";
import { readEnvFiles } from "../../src/_operator.ts";
import { resolveOptions } from "../../src/options.ts";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const req = new Request("http://h/p?q=1", { headers: { "user-agent": "ua", "x-id": "7" } });
const rec: AccessRecord = {
  addr: "10.0.0.1", start: Date.UTC(2026, 0, 2, 3, 4, 5), dt_ms: 1.23456, status: 201, path: "/p", query_string: "q=1",
  method: "GET", scheme: "https", protocol: "HTTP/2", size: 12, req,
};

describe("access-log format (Python %-style, Granian's atoms)", () => {
  test("the default reads like Granian's", () => {
    expect(compileFormat(DEFAULT_ACCESS_FMT)(rec)).toMatch(/^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}\] 10\.0\.0\.1 - "GET \/p HTTP\/2" 201 1\.235$/);
  });
  test("widths, precision, literal %, headers, ours", () => {
    const f = compileFormat("%(status)5d|%(status)-5d|%(dt_ms).1f|%(method).1s|100%%|%(header{X-Id})s|%(header{nope})s|%(size)s|%(user_agent)s|%(scheme)s|%(query_string)s");
    expect(f(rec)).toBe("  201|201  |1.2|G|100%|7|-|12|ua|https|q=1");
    expect(compileFormat("%(size)s")({ ...rec, size: -1 })).toBe("-");
  });
  test("unknown atoms and nameless specs are refused", () => {
    expect(() => compileFormat("%(nope)s")).toThrow("unknown atom %(nope)");
    expect(() => compileFormat("%s")).toThrow("needs an atom name");
  });
});

describe("proxy headers", () => {
  const resolve = (extra: Record<string, string>, peer: string, headers: Record<string, string>) =>
    proxyResolver(resolveOptions({ target: "m", proxyHeaders: true, ...extra }, {}))!(headers, peer);

  test("off: no resolver at all", () => {
    expect(proxyResolver(resolveOptions({ target: "m" }, {}))).toBeUndefined();
  });
  test("trust lists", () => {
    const t = trustList("10.0.0.0/8, ::1, 192.168.1.7") as (ip: string) => boolean;
    expect([t("10.2.3.4"), t("::1"), t("192.168.1.7"), t("192.168.1.8"), t("nonsense")]).toEqual([true, true, true, false, false]);
    expect((trustList("*") as (ip: string) => boolean)("203.0.113.1")).toBe(true);
    expect(trustList("10.0.0.0/33")).toBeInstanceOf(Error);
    expect(trustList("example.com")).toBeInstanceOf(Error);
  });
  test("untrusted peers change nothing", () => {
    expect(resolve({}, "10.0.0.9", { "x-forwarded-for": "1.2.3.4", "x-forwarded-proto": "https" })).toBeNull();
  });
  test("X-Forwarded-*: rightmost untrusted is the client; proto and host from the nearest hop", () => {
    expect(resolve({ forwardedAllowIps: "127.0.0.1,10.0.0.0/8" }, "127.0.0.1", {
      "x-forwarded-for": "6.6.6.6, 1.2.3.4, 10.0.0.2", "x-forwarded-proto": "http, https", "x-forwarded-host": "a.example",
    })).toEqual({ client: "1.2.3.4", port: "0", scheme: "https", host: "a.example" });
  });
  test("RFC 7239 Forwarded wins over X-Forwarded-*", () => {
    expect(resolve({}, "127.0.0.1", {
      forwarded: 'for="[2001:db8::7]:4711";proto=https;host=b.example', "x-forwarded-for": "9.9.9.9",
    })).toEqual({ client: "2001:db8::7", port: "4711", scheme: "https", host: "b.example" });
    expect(resolve({}, "127.0.0.1", { forwarded: "for=unknown;proto=http" })).toEqual({ client: undefined, port: "0", scheme: "http", host: undefined });
  });
});

describe("env files", () => {
  test("in order, later wins, the environment wins over all, ${VAR} expands", () => {
    const d = mkdtempSync(join(tmpdir(), "ops11-env-"));
    writeFileSync(join(d, "a"), "A=1\nB=a\nKEEP=file\n");
    writeFileSync(join(d, "b"), 'B=b\nC="${A}-${KEEP}"\n');
    expect(readEnvFiles([join(d, "a"), join(d, "b")], { KEEP: "env" })).toEqual({ A: "1", B: "b", C: "1-env" });
    expect(() => readEnvFiles([join(d, "missing")], {})).toThrow("invalid value for --env-files");
  });
});

describe("reload filter (Granian's --reload-ignore-*, on watchfiles' defaults)", () => {
  test("python files only, default and given ignores", async () => {
    const { reloadFilter } = await import("../../src/_reload.ts");
    const f = reloadFilter({ paths: [], ignoreDirs: ["skipme"], ignorePatterns: ["^draft_"], ignorePaths: ["/srv/app/vendor"] });
    expect(["/srv/app/a.py", "/srv/app/pkg/b.py"].map(f)).toEqual([true, true]);
    expect(["/srv/app/a.txt", "/srv/app/.venv/x.py", "/srv/app/__pycache__/a.py", "/srv/app/skipme/a.py",
      "/srv/app/draft_a.py", "/srv/app/vendor/a.py", "/srv/app/.#a.py"].map(f)).toEqual([false, false, false, false, false, false, false]);
    expect(() => reloadFilter({ paths: [], ignoreDirs: [], ignorePatterns: ["("], ignorePaths: [] })).toThrow();
  });
});

describe("reload watcher (--reload-tick: the quiet time that ends a burst of changes)", () => {
  const until = async (ok: () => boolean) => {
    for (let i = 0; i < 500 && !ok(); i++) await Bun.sleep(10);
    expect(ok()).toBe(true);
  };

  test("a burst of changes is one reload naming every file", async () => {
    const { watchForReload } = await import("../../src/_reload.ts");
    const d = mkdtempSync(join(tmpdir(), "gts-watch-"));
    const calls: string[][] = [];
    const unwatch = watchForReload([d], (p) => p.endsWith(".py"), 400, async (changed) => void calls.push(changed));
    try {
      // Changes 50 ms apart, well inside the 400 ms tick: one burst.
      for (const name of ["a.py", "b.py", "c.py"]) {
        writeFileSync(join(d, name), "x = 1\n");
        await Bun.sleep(50);
      }
      writeFileSync(join(d, "notes.txt"), "ignored by the filter");
      await until(() => calls.length > 0);
      expect(calls.length).toBe(1);
      expect(calls[0]!.map((p) => p.slice(d.length + 1)).sort()).toEqual(["a.py", "b.py", "c.py"]);
    } finally {
      unwatch();
    }
  });

  test("changes during a reload make one more reload after it, not one each", async () => {
    const { watchForReload } = await import("../../src/_reload.ts");
    const d = mkdtempSync(join(tmpdir(), "gts-watch-"));
    const calls: string[][] = [];
    let release = () => {};
    const unwatch = watchForReload([d], (p) => p.endsWith(".py"), 50, (changed) => {
      calls.push(changed);
      return calls.length === 1 ? new Promise<void>((r) => (release = r)) : Promise.resolve();
    });
    try {
      writeFileSync(join(d, "a.py"), "1");
      await until(() => calls.length === 1);
      // Two bursts (150 ms apart, three ticks) while the first reload still runs.
      writeFileSync(join(d, "b.py"), "1");
      await Bun.sleep(150);
      writeFileSync(join(d, "c.py"), "1");
      await Bun.sleep(150);
      expect(calls.length).toBe(1);
      release();
      await until(() => calls.length === 2);
      expect(calls[1]!.map((p) => p.slice(d.length + 1)).sort()).toEqual(["b.py", "c.py"]);
    } finally {
      unwatch();
    }
  });
});
