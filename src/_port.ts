/**
 * Refuse a port someone else holds. The listener threads bind with SO_REUSEPORT so that they
 * share one port; Linux lets any later socket with SO_REUSEPORT (same user) join it too, so a
 * second server on the same port would start silently and take half the connections. A probe
 * bind without SO_REUSEPORT, before the first listener, fails with EADDRINUSE whenever any
 * socket holds the port, with or without SO_REUSEPORT; ours bind only after it is closed. (A
 * server that binds with SO_REUSEPORT in the instant between the probe and our first listener
 * is not caught: the kernel gives no way to bind first and allow only our own sockets later.)
 */
export class AddressInUseError extends Error {
  override name = "AddressInUseError";
}

export function ensurePortFree(hostname: string, port: number): void {
  if (port === 0) return; // the kernel picks a free one
  try {
    const probe = Bun.listen({ hostname, port, socket: { data() {} } });
    probe.stop(true);
  } catch (err) {
    if ((err as { code?: string }).code !== "EADDRINUSE") throw err;
    const where = hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
    throw new AddressInUseError(`address already in use: ${where} (another process is listening on it)`);
  }
}
