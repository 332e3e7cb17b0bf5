/**
 * Prometheus metrics (--metrics): `ListenerMetrics` counts on each listener thread and posts
 * snapshots; `MetricsExporter` aggregates them on the main thread and serves them. Off, none
 * of it is built.
 */
export { ListenerMetrics, type Snapshot, type Gauges } from "./collect.ts";
export { MetricsExporter, type WorkerInfo } from "./exporter.ts";
