/**
 * `Granian`: the embeddable server. Options are resolved and validated once here; the
 * supervisor and the listener threads only read resolved values.
 */
import { consola } from "./logs/_consola.ts";
import { getInterface } from "./interfaces/index.ts";
import { OptionError, resolveOptions, type GranianOptions, type ResolvedOptions } from "./options.ts";
import { ensurePortFree } from "./_port.ts";
import { reloadFilter, watchForReload } from "./_reload.ts";
import { setProcessName } from "./_procname.ts";
import { resolve as resolvePath } from "node:path";
import { WorkerSupervisor } from "./_supervisor.ts";
import type { ListenConfig, ServerHandle } from "./types.ts";
import { resolveHTTP } from "./_http.ts";
import { resolveTLS } from "./tls.ts";
import { resolveUDS } from "./_uds.ts";
import { staticConfig } from "./static/index.ts";
import { checkLogOptions, configureLogs } from "./logs/index.ts";
import { proxyResolver } from "./_proxy.ts";
import { PidFile, loadEnvFiles, readEnvFiles, warnNoEffect } from "./_operator.ts";
import { setMaxHeaderSize } from "./_header_limit.ts";

export class Granian implements ServerHandle {
  readonly options: ResolvedOptions;
  private readonly reloadFilter: (path: string) => boolean;
  private readonly listen: ListenConfig;
  private supervisor: WorkerSupervisor | null = null;
  private unwatch: (() => void) | null = null;

  /** Throws `OptionError` (one line naming the option) on a bad value. */
  constructor(options: GranianOptions) {
    this.options = resolveOptions(options as Record<string, unknown>);
    getInterface(this.options.interface);
    // Bad mounts, log files and access-log formats fail here, before anything starts.
    staticConfig(this.options);
    checkLogOptions(this.options);
    readEnvFiles(this.options.envFiles);
    try {
      const o = this.options;
      this.reloadFilter = reloadFilter({ paths: o.reloadPaths, ignoreDirs: o.reloadIgnoreDirs, ignorePatterns: o.reloadIgnorePatterns, ignorePaths: o.reloadIgnorePaths });
    } catch (err) {
      throw new OptionError(`invalid value for --reload-ignore-patterns: ${(err as Error).message}`);
    }
    proxyResolver(this.options);
    // Files are read and checked here, before any worker starts: a bad certificate is one line.
    const tls = resolveTLS(this.options);
    if (this.options.http3 && !tls) throw new OptionError("--http3 needs TLS (--ssl-certificate and --ssl-keyfile)");
    const uds = resolveUDS(this.options);
    if (this.options.http3 && uds) throw new OptionError("--http3 needs a UDP port: it cannot be served on --uds");
    this.listen = { http: resolveHTTP(this.options, false), tls, uds };
  }

  get port(): number {
    return this.supervisor?.port ?? this.options.port;
  }

  /** True once every listener accepts requests (`serve()` resolved) and until it stops. */
  get serving(): boolean {
    return this.supervisor?.serving ?? false;
  }

  get closed(): Promise<void> {
    return this.supervisor?.closed ?? Promise.resolve();
  }

  async serve(): Promise<void> {
    if (this.supervisor) throw new Error("this server is already serving");
    configureLogs(this.options);
    resolveHTTP(this.options); // the start-up warnings for options Bun cannot apply
    warnNoEffect(this.options);
    if (this.options.processName !== undefined) setProcessName(this.options.processName);
    loadEnvFiles(this.options);
    const pid = this.options.pidFile !== undefined ? new PidFile(this.options.pidFile) : null;
    pid?.write();
    setMaxHeaderSize(this.options.http1BufferSize);
    if (!this.listen.uds) ensurePortFree(this.options.address, this.options.port);
    this.supervisor = new WorkerSupervisor(this.options, this.listen);
    this.supervisor.closed.then(() => pid?.remove());
    try {
      await this.supervisor.start();
    } catch (err) {
      pid?.remove();
      throw err;
    }
    if (this.options.reload) {
      const sup = this.supervisor;
      const o = this.options;
      const dirs = o.reloadPaths.length ? o.reloadPaths.map((p) => resolvePath(p)) : [o.workingDir];
      const log = consola.withTag("granian-ts");
      this.unwatch = watchForReload(dirs, this.reloadFilter, o.reloadTick, (changed) => {
        log.info(`changes detected (${changed.join(", ")}): reloading the workers`);
        return sup.reloadCode();
      });
      log.info(`watching ${dirs.join(", ")} for changes`);
    }
  }

  /**
   * Rolling restart: every worker is replaced by a fresh one, one at a time, without dropping
   * a request (what SIGHUP does). Resolves false if a replacement failed to start (that
   * worker keeps its old process).
   */
  async reload(): Promise<boolean> {
    return (await this.supervisor?.reload()) ?? false;
  }

  /** The Python workers' pids, by worker id. */
  get workerPids(): number[] {
    return this.supervisor?.pids ?? [];
  }

  async stop(): Promise<void> {
    this.unwatch?.();
    await this.supervisor?.stop();
  }
}
