import { watch } from "node:fs";

/** Call `onChange` (debounced) when a Python file under `dir` changes; returns the unwatcher. */
export function watchForReload(dir: string, onChange: () => Promise<void>): () => void {
  let timer: ReturnType<typeof setTimeout> | null = null;
  let running: Promise<void> = Promise.resolve();
  const watcher = watch(dir, { recursive: true }, (_event, file) => {
    if (!file || !String(file).endsWith(".py") || String(file).includes("__pycache__")) return;
    if (timer) clearTimeout(timer);
    // Editors write in bursts; one reload per burst.
    timer = setTimeout(() => {
      running = running.then(onChange, onChange);
    }, 200);
  });
  return () => {
    if (timer) clearTimeout(timer);
    watcher.close();
  };
}
