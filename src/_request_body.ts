/**
 * A request body, from Bun to the worker as REQUEST_BODY frames (docs/protocol.md, "Streams
 * and flow control"): read whole when small and of known size, else streamed with never more
 * than WINDOW bytes unacknowledged.
 */
import { FLAG_END, FrameType, type FrameWriter, MAX_CHUNK, WINDOW } from "./_protocol.ts";
import type { Stream } from "./_stream.ts";
import { isStalled, orStall } from "./_stall.ts";

/** Bodies up to this size (by content-length) are read whole rather than streamed. */
export const SMALL_BODY = 64 * 1024;

/**
 * Send `req`'s body for stream `s`. `length` is the declared length, or Infinity when there is
 * none (chunked, or an HTTP/2 body without content-length). `chunked`: an HTTP/1.1 chunked
 * body, whose end must wait a turn (see `endChunked`). `gone` is called when the client's body
 * failed or Bun refused the request after its body: the client is gone.
 */
export function sendBody(
  s: Stream,
  req: Request,
  length: number,
  chunked: boolean,
  writer: FrameWriter,
  gone: (s: Stream) => void,
  timeoutMs = 0,
  stalled: (s: Stream) => void = gone,
) {
  if (length <= SMALL_BODY) sendSmall(s, req, writer, gone, timeoutMs, stalled);
  else pump(s, req, chunked, writer, gone, timeoutMs, stalled);
}

async function sendSmall(
  s: Stream,
  req: Request,
  writer: FrameWriter,
  gone: (s: Stream) => void,
  timeoutMs: number,
  stalled: (s: Stream) => void,
) {
  try {
    const body = await orStall(req.bytes(), timeoutMs);
    if (isStalled(body)) return stalled(s);
    if (s.closed) return;
    s.unacked += body.length;
    writer.bytes(FrameType.REQUEST_BODY, FLAG_END, s.id, body);
  } catch {
    gone(s);
  }
}

async function pump(
  s: Stream,
  req: Request,
  chunked: boolean,
  writer: FrameWriter,
  gone: (s: Stream) => void,
  timeoutMs: number,
  stalled: (s: Stream) => void,
) {
  const reader = req.body!.getReader();
  try {
    for (;;) {
      if (s.unacked >= WINDOW) await new Promise<void>((r) => (s.resume = r));
      if (s.closed) break;
      const read = await orStall(reader.read(), timeoutMs);
      if (isStalled(read)) {
        reader.cancel().catch(() => {});
        return stalled(s);
      }
      const { value, done } = read;
      if (s.closed) break;
      if (done) {
        if (chunked && !(await endChunked(req))) return gone(s);
        if (!s.closed) writer.bytes(FrameType.REQUEST_BODY, FLAG_END, s.id);
        return;
      }
      for (let off = 0; off < value.length; off += MAX_CHUNK) {
        const chunk = value.subarray(off, off + MAX_CHUNK);
        writer.bytes(FrameType.REQUEST_BODY, 0, s.id, chunk);
        s.unacked += chunk.length;
      }
    }
    reader.cancel().catch(() => {});
  } catch {
    // The client's body stream failed: the client is gone.
    gone(s);
  }
}

/**
 * Bun's HTTP/1.1 parser has no trailer section: it ends a chunked body at the last chunk
 * (`0\r\n`) and reads what follows as the next request, so a trailer field is answered `400`
 * and the connection closed (aborting this request) right after the body "ended". The end is
 * held for one event-loop turn, enough for the bytes that came with the last chunk to be
 * parsed: if Bun refused them, the app gets a disconnect instead of a complete body.
 * Returns whether the body really ended.
 */
async function endChunked(req: Request): Promise<boolean> {
  await new Promise((r) => setImmediate(r));
  return !req.signal.aborted;
}
