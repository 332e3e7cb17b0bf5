/**
 * `p`'s value, or `late` once `ms` have passed. The timer is cleared as soon as `p` settles:
 * a bare `Promise.race([p, Bun.sleep(ms)])` keeps the process alive for the whole `ms`, so an
 * embedding app's `await server.stop()` would leave its process waiting on it.
 */
export function within<T, L = undefined>(p: Promise<T>, ms: number, late?: L): Promise<T | L> {
  let timer: ReturnType<typeof setTimeout>;
  const timeout = new Promise<L>((r) => (timer = setTimeout(() => r(late as L), ms)));
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
