/**
 * `Granian`: the embeddable server. Options are resolved and validated once here; the
 * supervisor and the listener threads only read resolved values.
 */
import { consola } from "consola";
import { getInterface } from "./interfaces/index.ts";
import { resolveOptions, type GranianOptions, type ResolvedOptions } from "./options.ts";
import { watchForReload } from "./_reload.ts";
import { WorkerSupervisor } from "./_supervisor.ts";
import { staticConfig } from "./static/index.ts";
import { checkLogOptions, configureLogs } from "./logs/index.ts";
import type { ServerHandle } from "./types.ts";

export class Granian implements ServerHandle {
  readonly options: ResolvedOptions;
  private supervisor: WorkerSupervisor | null = null;
  private unwatch: (() => void) | null = null;

  /** Throws `OptionError` (one line naming the option) on a bad value. */
  constructor(options: GranianOptions) {
    this.options = resolveOptions(options as Record<string, unknown>);
    getInterface(this.options.interface);
    // Bad mounts, log files and access-log formats fail here, before anything starts.
    staticConfig(this.options);
    checkLogOptions(this.options);
  }

  get port(): number {
    return this.supervisor?.port ?? this.options.port;
  }

  get closed(): Promise<void> {
    return this.supervisor?.closed ?? Promise.resolve();
  }

  async serve(): Promise<void> {
    if (this.supervisor) throw new Error("this server is already serving");
    configureLogs(this.options);
    this.supervisor = new WorkerSupervisor(this.options);
    await this.supervisor.start();
    if (this.options.reload) {
      const sup = this.supervisor;
      this.unwatch = watchForReload(this.options.workingDir, () => sup.reload());
      consola.withTag("granian-ts").info(`watching ${this.options.workingDir} for changes`);
    }
  }

  async stop(): Promise<void> {
    this.unwatch?.();
    await this.supervisor?.stop();
  }
}
