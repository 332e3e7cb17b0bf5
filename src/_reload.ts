/**
 * `--reload` for development: watch `--reload-paths` (default: the working directory) and call
 * `onChange` once per burst of changes (`--reload-tick` apart), skipping what the ignore
 * options name. The defaults follow watchfiles' DefaultFilter, which Granian's reloader uses.
 */
import { watch, type FSWatcher } from "node:fs";
import { basename, resolve, sep } from "node:path";
import type { ResolvedOptions } from "./options.ts";

const IGNORED_DIRS = [
  "__pycache__", ".git", ".hg", ".svn", ".tox", ".venv", ".idea", "node_modules", "site-packages",
  ".mypy_cache", ".pytest_cache", ".hypothesis", ".ruff_cache",
];
const IGNORED_PATTERNS = [/\.py[cod]$/, /\.___jb_...___$/, /\.sw.$/, /~$/, /^\.#/, /^\.DS_Store$/, /^flycheck_/];

export interface ReloadFilter {
  /** True when a change of `path` (absolute) should restart the workers. */
  (path: string): boolean;
}

export function reloadFilter(o: Pick<ResolvedOptions, "reloadIgnoreDirs" | "reloadIgnorePatterns" | "reloadIgnorePaths">): ReloadFilter {
  const dirs = new Set([...IGNORED_DIRS, ...(o.reloadIgnoreDirs ?? [])]);
  const patterns = [...IGNORED_PATTERNS, ...(o.reloadIgnorePatterns ?? []).map((p) => new RegExp(p))];
  const paths = (o.reloadIgnorePaths ?? []).map((p) => resolve(p));
  return (path) => {
    if (paths.some((p) => path === p || path.startsWith(p + sep))) return false;
    const parts = path.split(sep).filter(Boolean);
    if (parts.slice(0, -1).some((d) => dirs.has(d))) return false;
    // watchfiles matches the patterns against each entity's name (files and directories).
    return !parts.some((name) => patterns.some((re) => re.test(name))) && !dirs.has(basename(path));
  };
}

/** Watch; returns the unwatcher. `onChange` gets the changed paths of one burst. */
export function watchForReload(o: ResolvedOptions, onChange: (changed: string[]) => Promise<void>): () => void {
  const keep = reloadFilter(o);
  const roots = (o.reloadPaths?.length ? o.reloadPaths : [o.workingDir]).map((p) => resolve(o.workingDir, p));
  let timer: ReturnType<typeof setTimeout> | null = null;
  let changed = new Set<string>();
  let running: Promise<void> = Promise.resolve();
  const watchers: FSWatcher[] = roots.map((root) =>
    watch(root, { recursive: true }, (_event, file) => {
      const path = file ? resolve(root, String(file)) : root;
      if (!keep(path)) return;
      changed.add(path);
      if (timer) clearTimeout(timer);
      // Editors write in bursts; one restart per burst.
      timer = setTimeout(() => {
        const burst = [...changed];
        changed = new Set();
        running = running.then(() => onChange(burst), () => onChange(burst));
      }, o.reloadTick);
    }),
  );
  return () => {
    if (timer) clearTimeout(timer);
    for (const w of watchers) w.close();
  };
}
