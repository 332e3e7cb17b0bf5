import { describe, expect, test } from "bun:test";
import { HeadCache, MAX_ENTRIES, MAX_KEY } from "../../src/_head_cache.ts";
import { decodeResponse, encodeResponse } from "../../src/_protocol.ts";

const body = new TextEncoder().encode('{"ok":true}');
const payload = (headers: [string, string][], b = body) => encodeResponse(200, headers, b);
const JSON_HEAD: [string, string][] = [["content-type", "application/json"], ["content-length", String(body.length)]];

describe("HeadCache", () => {
  test("a repeated head decodes as decodeResponse does, into Headers, with its own body", () => {
    const cache = new HeadCache();
    const first = cache.decode(payload(JSON_HEAD));
    const other = new TextEncoder().encode('{"ok":false}').subarray(0, body.length);
    const second = cache.decode(payload(JSON_HEAD, other));
    const plain = decodeResponse(payload(JSON_HEAD));
    for (const h of [first, second]) {
      expect(h.status).toBe(200);
      expect(h.length).toBe(plain.length);
      expect(h.headers).toBeInstanceOf(Headers);
      expect(Object.fromEntries(h.headers as Headers)).toEqual(plain.headers as Record<string, string>);
    }
    expect(second.headers).toBe(first.headers); // the hit
    expect(new TextDecoder().decode(second.body)).toBe('{"ok":false');
  });

  test("a Response's headers are its own: a later set does not reach the cached ones", () => {
    const cache = new HeadCache();
    const h = cache.decode(payload(JSON_HEAD));
    new Response(h.body.slice(), { status: h.status, headers: h.headers }).headers.set("connection", "close");
    expect((cache.decode(payload(JSON_HEAD)).headers as Headers).get("connection")).toBeNull();
  });

  test("repeated names (set-cookie) and invalid lengths are decoded every time, as pairs and NaN", () => {
    const cache = new HeadCache();
    const cookies: [string, string][] = [["set-cookie", "a=1"], ["set-cookie", "b=2"]];
    for (let i = 0; i < 2; i++) expect(cache.decode(payload(cookies)).headers).toEqual(cookies);
    const bad = payload([["content-length", "x"]]);
    for (let i = 0; i < 2; i++) expect(Number.isNaN(cache.decode(bad).length)).toBe(true);
  });

  test("a header Bun refuses throws on every decode, not only the first", () => {
    const cache = new HeadCache();
    const bad = payload([["bad name", "x"]]);
    expect(() => cache.decode(bad)).toThrow();
    expect(() => cache.decode(bad)).toThrow();
  });

  test("malformed heads fail as decodeResponse fails", () => {
    expect(() => new HeadCache().decode(new Uint8Array([1, 0]))).toThrow("shorter than its head length");
    expect(() => new HeadCache().decode(new Uint8Array([9, 0, 0, 0, 50]))).toThrow("exceeds the payload");
  });

  test("bounded: heads that never repeat keep at most MAX_ENTRIES, and long heads are not kept", () => {
    const cache = new HeadCache();
    for (let i = 0; i < MAX_ENTRIES * 3; i++) cache.decode(payload([["x-n", String(i)]]));
    expect((cache as unknown as { entries: Map<string, unknown> }).entries.size).toBeLessThanOrEqual(MAX_ENTRIES);
    const long = payload([["x-long", "v".repeat(MAX_KEY)]]);
    const a = cache.decode(long);
    expect(cache.decode(long).headers).not.toBe(a.headers);
  });
});
