/**
 * Stop with the command that started us. npm (`npx`, `npm run`, `npm exec`) runs a bin through
 * `sh -c`, and Debian's sh (dash) neither execs the command nor passes on the SIGTERM/SIGINT npm
 * forwards to it: it dies and leaves the server an orphan, still serving the port. So when npm
 * or our Node shim started us, the parent going away counts as SIGTERM. Anyone else (a
 * terminal, `nohup`, systemd, Docker's PID 1) keeps the usual Unix meaning: a server outlives
 * the shell that started it.
 */
export function watchParent(onGone: () => void, env: Record<string, string | undefined> = process.env): void {
  const asked = env.GRANIAN_TS_WATCH_PARENT === "1" || env.npm_lifecycle_event !== undefined;
  delete env.GRANIAN_TS_WATCH_PARENT; // not for the Python workers
  const parent = process.ppid;
  if (!asked || parent <= 1) return;
  // process.ppid is read afresh each time (getppid); a reparented process sees init or a subreaper.
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    onGone();
  }, 200);
  timer.unref();
}
