/**
 * What the access log and metrics cost per request on the listener thread: the observer each
 * response reports to (src/logs/, src/metrics/), timed alone with a real Request, so the cost
 * is known apart from the noise of a whole-server run. bench/run.py measures the same on/off
 * with wrk (servers granian-ts, granian-ts+access-log, granian-ts+metrics).
 * Run: node_modules/.bin/bun bench/observers.bench.ts
 */
import { bench, do_not_optimize, group, run } from "mitata";
import { compileFormat, DEFAULT_ACCESS_FMT, jsonRecord, type AccessRecord } from "../src/logs/format.ts";
import { LineSink } from "../src/logs/_sink.ts";
import { ListenerMetrics } from "../src/metrics/collect.ts";

const req = new Request("http://127.0.0.1:8000/api/items/42?page=2", {
  headers: { "user-agent": "wrk", accept: "*/*", host: "127.0.0.1:8000" },
});
const record = (): AccessRecord => ({
  addr: "127.0.0.1", start: Date.now(), dt_ms: 0.42, status: 200, path: "/api/items/42", query_string: "page=2",
  method: "GET", scheme: "http", protocol: "HTTP/1.1", size: 1024, req,
});
const line = compileFormat(DEFAULT_ACCESS_FMT);
// Lines to fd 1: run with stdout to /dev/null (`> /dev/null` is what the command below does
// not do, so it prints; redirect stdout to a file to include the writes).
const sink = new LineSink(2);
const metrics = new ListenerMetrics("1", "asgi");

group("per response", () => {
  bench("access log: format a line (Granian's default)", () => do_not_optimize(line(record())));
  bench("access log: JSON line", () => do_not_optimize(jsonRecord(record())));
  bench("access log: format + batch", () => sink.push(line(record())));
  bench("metrics: observe", () => metrics.observe(req, "127.0.0.1", 200, performance.now() - 0.4, 1024));
  bench("performance.now() (the start time both need)", () => do_not_optimize(performance.now()));
});

await run({ colors: false });
