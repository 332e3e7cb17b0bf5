/**
 * On the main thread: the listeners' latest snapshots, the workers' RSS sampled once per
 * --metrics-scrape-interval, worker restarts by reason, rendered as Prometheus text
 * (exposition format 0.0.4) on a Bun.serve of its own (--metrics-address, --metrics-port).
 */
import type { Server } from "bun";
import { readFileSync } from "node:fs";
import type { ResolvedOptions } from "../options.ts";
import { BUCKETS, type Snapshot } from "./collect.ts";

export interface WorkerInfo {
  index: number;
  pid: number;
}

const CLASSES = ["other", "1xx", "2xx", "3xx", "4xx", "5xx"];

function rssBytes(pid: number): number | null {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

const esc = (v: string) => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");

export class MetricsExporter {
  private readonly snapshots = new Map<string, Snapshot>();
  private readonly restarts = new Map<string, number>();
  private workerRss: [number, number][] = [];
  private processRss = 0;
  private server: Server<unknown> | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;

  constructor(
    private readonly o: ResolvedOptions,
    private readonly workers: () => WorkerInfo[],
  ) {}

  /** Binds the port: a port in use fails start-up, as any listener would. */
  start(): number {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.o.metricsScrapeInterval * 1000);
    this.server = Bun.serve({
      hostname: this.o.metricsAddress,
      port: this.o.metricsPort,
      development: false,
      fetch: (req) => {
        const path = new URL(req.url).pathname;
        if (path !== "/metrics" && path !== "/") return new Response("Not found", { status: 404 });
        return new Response(this.render(), { headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" } });
      },
    });
    return this.server.port!;
  }

  stop() {
    if (this.timer) clearInterval(this.timer);
    this.server?.stop(true);
    this.server = null;
  }

  update(s: Snapshot) {
    this.snapshots.set(s.listener, s);
  }

  countRestart(reason: string) {
    this.restarts.set(reason, (this.restarts.get(reason) ?? 0) + 1);
  }

  private sample() {
    this.processRss = rssBytes(process.pid) ?? 0;
    this.workerRss = this.workers().flatMap((w) => {
      const rss = rssBytes(w.pid);
      return rss === null ? [] : [[w.index, rss] as [number, number]];
    });
  }

  render(): string {
    const out: string[] = [];
    const metric = (name: string, type: string, help: string, lines: string[]) => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...lines);
    };
    const snaps = [...this.snapshots.values()];
    const byIface = new Map<string, Snapshot[]>();
    for (const s of snaps) byIface.set(s.interface, [...(byIface.get(s.interface) ?? []), s]);
    const iface = this.o.interface;
    const sum = (f: (s: Snapshot) => number) => snaps.reduce((a, s) => a + f(s), 0);

    metric("granian_ts_requests_total", "counter", "Responses sent, by status class and interface.",
      CLASSES.map((c, i) => `granian_ts_requests_total{interface="${iface}",status_class="${c}"} ${sum((s) => s.byClass[i]!)}`));
    const cumulative: string[] = [];
    let acc = 0;
    BUCKETS.forEach((le, i) => {
      acc += sum((s) => s.buckets[i]!);
      cumulative.push(`granian_ts_request_duration_seconds_bucket{interface="${iface}",le="${le}"} ${acc}`);
    });
    acc += sum((s) => s.buckets[BUCKETS.length]!);
    cumulative.push(
      `granian_ts_request_duration_seconds_bucket{interface="${iface}",le="+Inf"} ${acc}`,
      `granian_ts_request_duration_seconds_sum{interface="${iface}"} ${sum((s) => s.durationSum)}`,
      `granian_ts_request_duration_seconds_count{interface="${iface}"} ${acc}`,
    );
    metric("granian_ts_request_duration_seconds", "histogram", "Time from a request's arrival to its response head.", cumulative);
    metric("granian_ts_request_bytes_total", "counter", "Request body bytes (by content-length).", [`granian_ts_request_bytes_total ${sum((s) => s.bytesIn)}`]);
    metric("granian_ts_response_bytes_total", "counter", "Response body bytes (known sizes; streamed bodies without content-length are not counted).",
      [`granian_ts_response_bytes_total ${sum((s) => s.bytesOut)}`]);
    const perListener = (name: string, help: string, f: (s: Snapshot) => number) =>
      metric(name, "gauge", help, snaps.map((s) => `${name}{listener="${esc(s.listener)}"} ${f(s)}`));
    perListener("granian_ts_requests_in_flight", "Requests sent to a worker and not yet answered.", (s) => s.inFlight);
    perListener("granian_ts_backpressure_queue_length", "Requests waiting in Bun for a slot (--backpressure).", (s) => s.queued);
    perListener("granian_ts_websockets_open", "Open websockets.", (s) => s.websockets);
    perListener("granian_ts_listener_heap_bytes", "JS heap in use by a listener thread (threads share the process RSS).", (s) => s.heapBytes);
    metric("granian_ts_worker_restarts_total", "counter", "Python worker restarts, by reason.",
      [...this.restarts].map(([reason, n]) => `granian_ts_worker_restarts_total{reason="${esc(reason)}"} ${n}`));
    metric("granian_ts_worker_rss_bytes", "gauge", "Resident memory of each Python worker process.",
      this.workerRss.map(([i, rss]) => `granian_ts_worker_rss_bytes{worker="${i}"} ${rss}`));
    metric("granian_ts_process_rss_bytes", "gauge", "Resident memory of the Bun process (all listener threads).", [`granian_ts_process_rss_bytes ${this.processRss}`]);
    // Granian's own series where they map, so its dashboards keep working (src/metrics.rs
    // there). Granian labels them by worker; here any listener thread routes to any worker,
    // so they count the whole server.
    const statics = sum((s) => s.statics);
    metric("granian_requests_handled", "counter", "Requests handled by the app (Granian's name).",
      [`granian_requests_handled ${sum((s) => s.byClass.reduce((a, b) => a + b, 0)) - statics}`]);
    metric("granian_static_requests_handled", "counter", "Static-file requests (Granian's name).", [`granian_static_requests_handled ${statics}`]);
    metric("granian_workers_respawns_for_err", "counter", "Workers respawned after a crash (Granian's name).",
      [`granian_workers_respawns_for_err ${this.restarts.get("crash") ?? 0}`]);
    return out.join("\n") + "\n";
  }
}
