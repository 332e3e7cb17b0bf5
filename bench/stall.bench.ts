/**
 * What a small request body's read deadline (--body-read-timeout) costs per request on the
 * listener thread, in the shape `WorkerPool.prefetch` (src/_routing.ts) reads it: a deadline
 * in one sweeping timer's list (src/_stall.ts) against the timer per read it replaced
 * (`within`: setTimeout + Promise.race + finally, under an async function), and no deadline.
 * Run: node_modules/.bin/bun bench/stall.bench.ts
 */
import { bench, group, run } from "mitata";
import { unwatch, watch } from "../src/_stall.ts";
import { within } from "../src/_within.ts";

const LATE = Symbol("late");
const read = () => Promise.resolve(new Uint8Array(16));
const answer = (b: Uint8Array) => b.length;

const swept = () =>
  new Promise<number>((resolve) => {
    const d = watch(30_000, () => resolve(-1));
    read().then((b) => unwatch(d) && resolve(answer(b)));
  });

async function timed() {
  const b = await within(read(), 30_000, LATE);
  return b === LATE ? -1 : answer(b);
}

group("a small body read under a 30 s deadline", () => {
  bench("sweep: a deadline in a list, callbacks", swept);
  bench("timer per read: async + within", timed);
  bench("no deadline: async + await", async () => answer(await read()));
});

await run();
