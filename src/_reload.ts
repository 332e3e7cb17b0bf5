/**
 * --reload: restart the workers when Python files change. Granian's --reload-paths (default:
 * the working directory), --reload-ignore-dirs (added to watchfiles' default list, which is
 * kept), --reload-ignore-patterns (regexes on the file name, added to the defaults) and
 * --reload-ignore-paths (absolute paths) apply. fs.watch reports changes as they happen, so
 * --reload-tick (Granian's polling step) has nothing to set.
 */
import { watch, type FSWatcher } from "node:fs";
import { basename, resolve, sep } from "node:path";

/** watchfiles' DefaultFilter, which Granian extends. */
const IGNORE_DIRS = ["__pycache__", ".git", ".hg", ".svn", ".tox", ".venv", ".idea", "node_modules", ".mypy_cache", ".pytest_cache", ".hypothesis"];
const IGNORE_PATTERNS = [/\.py[cod]$/, /\.___jb_...___$/, /\.sw.$/, /~$/, /^\.#/, /^\.DS_Store$/, /^flycheck_/];

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

/** Call `onChange` (debounced) when a watched Python file changes; returns the unwatcher. */
export function watchForReload(dirs: readonly string[], filter: (path: string) => boolean, onChange: () => Promise<void>): () => void {
  let timer: ReturnType<typeof setTimeout> | null = null;
  let running: Promise<void> = Promise.resolve();
  const watchers: FSWatcher[] = dirs.map((dir) =>
    watch(dir, { recursive: true }, (_event, file) => {
      if (!file || !filter(resolve(dir, String(file)))) return;
      if (timer) clearTimeout(timer);
      // Editors write in bursts; one reload per burst.
      timer = setTimeout(() => {
        running = running.then(onChange, onChange);
      }, 200);
    }),
  );
  return () => {
    if (timer) clearTimeout(timer);
    for (const w of watchers) w.close();
  };
}
