/**
 * Lines written in batches, off the request path: `push` only appends to an array; a timer
 * joins what gathered and writes it to the file descriptor in one asynchronous `fs.write`
 * (straight to fd 1 or 2: a worker thread's `process.stdout` would pass each chunk through
 * the main thread first). While a write is in
 * flight (a slow reader of our stdout) lines keep gathering, up to a bound past which they are
 * counted and dropped rather than held: the log never holds back a request nor grows without
 * limit.
 */
import { write, writeSync } from "node:fs";

const FLUSH_MS = 20;
const FLUSH_BYTES = 64 * 1024;
const MAX_BYTES = 8 * 1024 * 1024;

export class LineSink {
  private lines: string[] = [];
  private bytes = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private writing = false;
  dropped = 0;

  constructor(private readonly fd: 1 | 2 = 1) {}

  push(line: string) {
    if (this.bytes > MAX_BYTES) {
      this.dropped++;
      return;
    }
    this.lines.push(line);
    this.bytes += line.length + 1;
    if (this.bytes >= FLUSH_BYTES) this.flush();
    else if (this.timer === null) this.timer = setTimeout(this.flush, FLUSH_MS);
  }

  private take(): string {
    let chunk = this.lines.join("\n") + "\n";
    if (this.dropped) {
      chunk += `granian-ts: ${this.dropped} access log line(s) dropped: stdout did not keep up\n`;
      this.dropped = 0;
    }
    this.lines = [];
    this.bytes = 0;
    return chunk;
  }

  flush = () => {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.writing || this.lines.length === 0) return;
    this.writing = true;
    this.writeAll(Buffer.from(this.take()));
  };

  private writeAll(buf: Buffer) {
    write(this.fd, buf, 0, buf.length, null, (err, n) => {
      // A partial write (a pipe that filled up) continues where it stopped; an error (the
      // reader is gone) drops the batch: the server goes on without its log.
      if (!err && n < buf.length) return this.writeAll(buf.subarray(n));
      // A non-blocking pipe that is full: try again shortly.
      if (err?.code === "EAGAIN") return void setTimeout(() => this.writeAll(buf), FLUSH_MS);
      this.writing = false;
      if (this.lines.length && this.timer === null) this.timer = setTimeout(this.flush, FLUSH_MS);
    });
  }

  /** At shutdown: whatever is left, synchronously. */
  close() {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.lines.length) {
      try {
        writeSync(this.fd, this.take());
      } catch {}
    }
  }
}
