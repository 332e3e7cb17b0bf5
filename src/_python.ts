/**
 * One Python worker process (`python -m granian_ts`) and the supervisor's control connection
 * to it (docs/protocol.md, "Control connection").
 */
import type { Subprocess, Socket } from "bun";
import { existsSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { FrameDecoder, FrameType, encodeFrame } from "./_protocol.ts";
import type { ResolvedOptions } from "./options.ts";
import { within } from "./_within.ts";

/** python/ holds the granian_ts package; it goes on the worker's PYTHONPATH. */
const PYTHON_DIR = resolve(import.meta.dir, "../python");

export class StartupError extends Error {
  override name = "StartupError";
}

export class PythonWorker {
  readonly socketPath: string;
  private proc: Subprocess<"pipe", "inherit", "pipe"> | null = null;
  /** The end of the worker's stderr (it is passed on to ours): the last error, for crash reports. */
  private tail = "";
  /** Resolves when the worker's stderr reached its end (the process is gone). */
  private stderrDone: Promise<void> = Promise.resolve();
  private control: Socket | null = null;
  private stopped: (() => void) | null = null;
  /** What start-up is doing, as the worker tells (STARTING frames). */
  phase = "starting the Python interpreter";
  /** True once `stop()` was asked: an exit is then expected, not a crash. */
  stopping = false;
  pid = 0;

  constructor(
    private readonly opts: ResolvedOptions,
    readonly index: number,
  ) {
    this.socketPath = join(tmpdir(), `granian-ts-${process.pid}-${index}-${Date.now().toString(36)}.sock`);
  }

  /** Resolves with the exit code when the process ends. */
  exited: Promise<number> = Promise.resolve(0);

  /** Spawn the worker and wait until it reports READY (app imported, lifespan started). */
  async start(): Promise<void> {
    const o = this.opts;
    const env = {
      ...process.env,
      PYTHONPATH: [PYTHON_DIR, process.env.PYTHONPATH].filter(Boolean).join(":"),
      PYTHONUNBUFFERED: "1",
      // 1..N, the same for a worker's replacements: apps shard caches, ports or logs by it.
      GRANIAN_TS_WORKER_ID: String(this.index),
      // Read by python/granian_ts/protocol.py as it is imported, before any argument is.
      GRANIAN_TS_SPEEDUPS: o.speedups ? "1" : "0",
    };
    const argv = [
      o.python, "-m", "granian_ts",
      "--socket", this.socketPath,
      "--interface", o.interface,
      "--target", o.target,
      // rloop (Granian's own) and winloop (Windows) are accepted, and warned about: auto here.
      "--loop", o.loop === "rloop" || o.loop === "winloop" ? "auto" : o.loop,
      "--working-dir", o.workingDir,
      // On a Unix socket the server is its path (ASGI: [path, None]; Granian: path, port 0).
      ...(o.uds !== undefined ? ["--server-host", o.uds, "--server-port", "0", "--server-unix"] : ["--server-host", o.address, "--server-port", String(o.port)]),
      "--log-level", o.log ? o.logLevel : "critical",
      "--log-format", o.logFormat,
      "--log-config", o.logConfig ? resolve(o.logConfig) : "",
      "--root-path", o.urlPathPrefix,
      ...(o.factory ? ["--factory"] : []),
      ...(o.processName !== undefined ? ["--process-name", `${o.processName.slice(0, 11)}-w${this.index}`] : []),
      "--blocking-threads", String(o.blockingThreads),
      "--blocking-threads-idle-timeout", String(o.blockingThreadsIdleTimeout),
      "--task-impl", o.taskImpl,
      ...(o.gcFreeze ? ["--gc-freeze"] : []),
    ];
    try {
      // stdin is the lifeline: never written, it reaches EOF when this process dies, even by SIGKILL.
      this.proc = Bun.spawn(argv, { stdin: "pipe", stdout: "inherit", stderr: "pipe", env, cwd: o.workingDir });
    } catch (err) {
      throw new StartupError(`could not start the Python interpreter ${JSON.stringify(o.python)}: ${(err as Error).message}`);
    }
    this.pid = this.proc.pid;
    // However the process ends (a SIGKILL too), its socket file goes with it: we named it.
    this.exited = this.proc.exited.then((code) => {
      this.unlinkSocket();
      return code;
    });
    this.stderrDone = this.passStderr(this.proc.stderr);
    let ready = false;
    const exited = this.exited.then((code) => {
      if (!ready) throw new StartupError(`worker exited with code ${code} before it was ready`);
    });
    exited.catch(() => {}); // the race below reports it; a later exit is the supervisor's business
    // A start-up that never finishes (an import or lifespan startup that hangs) is an error.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.kill();
        reject(new StartupError(`worker ${this.index} did not start within ${o.startupTimeout} s (it was ${this.phase})`));
      }, o.startupTimeout * 1000);
    });
    try {
      await Promise.race([this.handshake(), exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
    ready = true;
  }

  private async passStderr(stream: ReadableStream<Uint8Array>) {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of stream) {
        process.stderr.write(chunk);
        this.tail = (this.tail + decoder.decode(chunk, { stream: true })).slice(-4096);
      }
    } catch {}
  }

  /** The last line of the worker's stderr that reads like an error (a traceback's last line). */
  lastError(): string {
    const lines = this.tail.split("\n").map((l) => l.trim()).filter(Boolean);
    const error = lines.findLast((l) => /^\w*(Error|Exception|Interrupt|Exit)\b|error|fatal/i.test(l));
    return error ?? lines.at(-1) ?? "";
  }

  /**
   * Where the app's code failed, as "path:line": the last frame of the traceback on the
   * worker's stderr that is neither importlib's nor ours (for a SyntaxError, the line Python
   * points at). Waits (bounded) for stderr to be read to its end: the STARTUP_FAILED frame
   * can arrive before the traceback written just ahead of it.
   */
  async errorLocation(): Promise<string> {
    await within(this.stderrDone, 1000);
    const frames = [...this.tail.matchAll(/File "([^"]+)", line (\d+)/g)].filter(
      ([, file]) => !file!.startsWith("<") && !file!.startsWith(PYTHON_DIR),
    );
    const last = frames.at(-1);
    return last ? `${last[1]}:${last[2]}` : "";
  }

  /** How the process ended, for a log line: "exit code 1" or "signal SIGKILL". */
  exitDescription(): string {
    const sig = this.proc?.signalCode;
    return sig ? `signal ${sig}` : `exit code ${this.proc?.exitCode}`;
  }

  private async handshake(): Promise<void> {
    // The worker binds its socket before importing the app, so this wait is Python's start-up only.
    for (let i = 0; ; i++) {
      try {
        return await this.connectControl();
      } catch (err) {
        if (err instanceof StartupError) throw err;
        if (i > 3000) throw new StartupError(`worker did not open ${this.socketPath} within 30 s`);
        await Bun.sleep(10);
      }
    }
  }

  private connectControl(): Promise<void> {
    return new Promise((resolveReady, rejectReady) => {
      let settled = false;
      const decoder = new FrameDecoder((type, _flags, _stream, payload) => {
        const text = new TextDecoder().decode(payload);
        if (type === FrameType.READY && !settled) {
          settled = true;
          resolveReady();
        } else if (type === FrameType.STARTUP_FAILED && !settled) {
          settled = true;
          rejectReady(new StartupError(text));
        } else if (type === FrameType.STARTING) {
          this.phase = text;
        } else if (type === FrameType.STOPPED) {
          this.stopped?.();
        }
      });
      if (!existsSync(this.socketPath)) return rejectReady(new Error("socket not there yet"));
      Bun.connect({
        unix: this.socketPath,
        socket: {
          open: (s) => {
            this.control = s;
            s.write(encodeFrame(FrameType.HELLO, 0, 0));
          },
          data: (_s, chunk) => decoder.push(chunk),
          close: () => {
            this.control = null;
          },
          error: () => {},
        },
      }).catch(rejectReady);
    });
  }

  /** Ask for lifespan shutdown and exit; kill the process if it takes longer than `timeoutMs`. */
  async stop(timeoutMs = 30_000): Promise<void> {
    this.stopping = true;
    if (!this.proc || this.proc.exitCode !== null) return this.cleanup();
    const done = new Promise<void>((r) => (this.stopped = r));
    if (this.control) this.control.write(encodeFrame(FrameType.STOP, 0, 0));
    else this.proc.kill("SIGTERM");
    const outcome = await within(Promise.race([this.exited, done.then(() => this.exited)]), timeoutMs, "timeout");
    if (outcome === "timeout") this.proc.kill("SIGKILL");
    await this.exited;
    this.cleanup();
  }

  kill() {
    this.stopping = true;
    this.proc?.kill("SIGKILL");
    this.cleanup();
  }

  private cleanup() {
    this.control?.end();
    this.unlinkSocket();
  }

  private unlinkSocket() {
    try {
      unlinkSync(this.socketPath);
    } catch {}
  }
}
