/**
 * The `Response`s the bridge hands Bun besides the app's own bytes: its error answers, the
 * body of a HEAD whose length is unknown, and a cut (a response that must not complete).
 */

/**
 * A response body that arrives in more than one message keeps the app's `content-length` only
 * if Bun gets it whole: Bun strips the header from every stream body and sends it chunked
 * (oven-sh/bun#10507; only its sendfile path writes a length back). A body of declared length
 * up to this size is held until it is complete and then answered as bytes, with that length;
 * a larger one streams chunked, without it (README, "What Bun decides for us").
 */
export const HOLD_LIMIT = 4 * 1024 * 1024;

const TEXT = { "content-type": "text/plain; charset=utf-8" };

export const BAD_GATEWAY = () => new Response("Bad Gateway", { status: 502, headers: TEXT });

export const BAD_REQUEST = () => new Response("Bad Request", { status: 400, headers: { ...TEXT, connection: "close" } });

/** What Granian answers when the file of a file response cannot be opened. */
export const FILE_NOT_FOUND = () => new Response("Not found", { status: 404, headers: TEXT });

/**
 * The body of a HEAD answer whose app gave no length. With no body at all Bun would claim
 * `content-length: 0`; an empty stream makes it say `transfer-encoding: chunked`, what a GET
 * of unknown length gets (RFC 9110 §9.3.2: HEAD answers with the GET's header fields).
 */
export const unknownLength = () =>
  new ReadableStream<Uint8Array>(
    {
      // Closed on the first pull, not at start: a stream already closed reads as "no bytes" to Bun.
      pull(c) {
        c.close();
      },
    },
    { highWaterMark: 0 },
  );

/**
 * A body that fails at once: Bun closes the client's connection (a reset, or a chunked body
 * without its last chunk), so a response that cannot be sent as the app declared it never
 * looks complete to the client.
 */
export const cutBody = (reason: string) =>
  new ReadableStream<Uint8Array>({
    start(c) {
      c.error(new Error(reason));
    },
  });

/** `chunks` joined into one buffer of `total` bytes. */
export function concat(chunks: Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}
