/**
 * --reload: watch the Python files and say when they changed. Granian's --reload-paths
 * (default: the working directory), --reload-ignore-dirs (added to watchfiles' default list,
 * which is kept), --reload-ignore-patterns (regexes on the file name, added to the defaults)
 * and --reload-ignore-paths (absolute paths) apply. --reload-tick is watchfiles' `step`, as in
 * Granian: a burst of changes is reported once no new change came for that many
 * milliseconds (and at the latest 1.6 s after its first, watchfiles' `debounce`). What a
 * change does (start the workers again) is the supervisor's (`WorkerSupervisor.reloadCode`).
 */
import { watch, type FSWatcher } from "node:fs";
import { basename, resolve, sep } from "node:path";

/** watchfiles' DefaultFilter, which Granian extends. */
const IGNORE_DIRS = ["__pycache__", ".git", ".hg", ".svn", ".tox", ".venv", ".idea", "node_modules", ".mypy_cache", ".pytest_cache", ".hypothesis"];
const IGNORE_PATTERNS = [/\.py[cod]$/, /\.___jb_...___$/, /\.sw.$/, /~$/, /^\.#/, /^\.DS_Store$/, /^flycheck_/];
/** watchfiles' `debounce`: a burst that never goes quiet is still reported this long after it began. */
const MAX_DEBOUNCE_MS = 1600;

export interface ReloadOptions {
  paths: readonly string[];
  ignoreDirs: readonly string[];
  ignorePatterns: readonly string[];
  ignorePaths: readonly string[];
}

/** A filter for changed paths, from the options (patterns compiled once; a bad one throws). */
export function reloadFilter(o: ReloadOptions): (path: string) => boolean {
  const dirs = new Set([...IGNORE_DIRS, ...o.ignoreDirs]);
  const patterns = [...IGNORE_PATTERNS, ...o.ignorePatterns.map((p) => new RegExp(p))];
  const paths = o.ignorePaths.map((p) => resolve(p));
  return (path) => {
    const name = basename(path);
    if (!name.endsWith(".py")) return false;
    if (path.split(sep).some((part) => dirs.has(part))) return false;
    if (patterns.some((re) => re.test(name))) return false;
    return !paths.some((p) => path === p || path.startsWith(p + sep));
  };
}

/**
 * Call `onChange` with the changed paths once per burst (see --reload-tick above); a burst
 * during a reload runs one more reload after it, never several. Returns the unwatcher.
 */
export function watchForReload(
  dirs: readonly string[],
  filter: (path: string) => boolean,
  tickMs: number,
  onChange: (changed: string[]) => Promise<unknown>,
): () => void {
  let timer: ReturnType<typeof setTimeout> | null = null;
  let firstAt = 0;
  let burst = new Set<string>();
  /** Changes seen while a reload runs, for the one after it. */
  let next: Set<string> | null = null;
  let running = false;
  const run = async (changed: Set<string>) => {
    running = true;
    try {
      await onChange([...changed]);
    } catch {}
    running = false;
    if (next) {
      const again = next;
      next = null;
      void run(again);
    }
  };
  const fire = () => {
    timer = null;
    const changed = burst;
    burst = new Set();
    if (running) next = new Set([...(next ?? []), ...changed]);
    else void run(changed);
  };
  const watchers: FSWatcher[] = dirs.map((dir) =>
    watch(dir, { recursive: true }, (_event, file) => {
      if (!file) return;
      const path = resolve(dir, String(file));
      if (!filter(path)) return;
      if (burst.size === 0) firstAt = performance.now();
      burst.add(path);
      if (timer) clearTimeout(timer);
      timer = setTimeout(fire, Math.max(0, Math.min(tickMs, firstAt + MAX_DEBOUNCE_MS - performance.now())));
    }),
  );
  return () => {
    if (timer) clearTimeout(timer);
    for (const w of watchers) w.close();
  };
}
