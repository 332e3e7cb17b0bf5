/**
 * Response heads seen before, decoded once. An app answers most requests with a few heads (the
 * same status, content-type and, for a fixed body, content-length), and a hit saves a third of
 * what the bridge spends on a small response (bench/codec.bench.ts, "response head"): the
 * text decode and split, and the `HeadersInit` object Bun would validate again, since
 * `new Response` copies a `Headers` faster than it reads an object. Bun copies the `Headers`
 * into each `Response`, so a later `headers.set` (connection: close on drain) never reaches the
 * cached one.
 *
 * Bounded: heads up to `MAX_KEY` bytes, `MAX_ENTRIES` of them; when full it starts over rather
 * than track recency — an app whose heads never repeat (a varying content-length) pays one
 * latin1 slice per response and gets the plain decode.
 */
import { type ResponseHead, decodeResponse, readU32 } from "./_protocol.ts";

export const MAX_KEY = 512;
export const MAX_ENTRIES = 256;

/** Bytes to a string one char per byte: the cheapest exact key Bun offers (a native slice). */
const latin1Slice = (Buffer.prototype as unknown as { latin1Slice(this: Uint8Array, s: number, e: number): string })
  .latin1Slice;

interface Entry {
  status: number;
  headers: Headers;
  length: number;
}

export class HeadCache {
  private entries = new Map<string, Entry>();
  /** Misses since the last hit: a run of them means heads do not repeat, so stop storing. */
  private misses = 0;

  /** `decodeResponse`, from the cache when the same head bytes were decoded before. */
  decode(payload: Uint8Array): ResponseHead {
    const headLen = payload.length >= 4 ? readU32(payload, 0) : -1;
    if (headLen < 0 || headLen > MAX_KEY || headLen + 4 > payload.length) return decodeResponse(payload);
    const key = latin1Slice.call(payload, 4, 4 + headLen);
    const hit = this.entries.get(key);
    if (hit !== undefined) {
      this.misses = 0;
      return { status: hit.status, headers: hit.headers, length: hit.length, body: payload.subarray(4 + headLen) };
    }
    const head = decodeResponse(payload);
    // A repeated name comes as pairs (set-cookie): those stay uncached, as do invalid lengths.
    if (++this.misses > MAX_ENTRIES || Array.isArray(head.headers) || head.length !== head.length) return head;
    // new Headers() refuses what Bun refuses; thrown here, it fails the request as the Response would.
    const headers = new Headers(head.headers);
    if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
    this.entries.set(key, { status: head.status, headers, length: head.length });
    head.headers = headers;
    return head;
  }
}
