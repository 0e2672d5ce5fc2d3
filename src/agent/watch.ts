/**
 * Watching an agent's modules for `tributary agent --watch`: one recursive
 * `fs.watch` per directory that holds a module (a directory inside another
 * watched one is covered by it), so that a change to a module or to a file
 * beside or below it (what modules usually import) is seen. Files under
 * `node_modules` or a dot-directory, and files that are not source
 * (`.ts .mts .cts .tsx .js .mjs .cjs .jsx .json`), are ignored. Changes are
 * debounced: one call after a quiet `debounceMs`, with the files changed.
 */
import { watch, type FSWatcher } from "node:fs";
import { dirname, extname, join, relative, resolve, sep } from "node:path";

const SOURCE = new Set([".ts", ".mts", ".cts", ".tsx", ".js", ".mjs", ".cjs", ".jsx", ".json"]);

export interface ModuleWatcher {
  /** The directories watched (absolute). */
  readonly dirs: readonly string[];
  close(): void;
}

/** The directories to watch for `modules`: their own, those inside another left out. */
export const watchedDirs = (modules: readonly string[]): string[] => {
  const dirs = [...new Set(modules.map((m) => dirname(resolve(m))))].sort();
  return dirs.filter((d) => !dirs.some((o) => o !== d && !relative(o, d).startsWith("..") && !relative(o, d).startsWith(sep)));
};

/** Is a changed file (relative to its watched directory) one a reload should follow? */
export const isWatchedFile = (file: string): boolean =>
  SOURCE.has(extname(file)) && !file.split(/[\\/]/).some((part) => part === "node_modules" || part.startsWith("."));

/**
 * Calls `onChange(files)` once changes to the modules' source files have
 * been quiet for `debounceMs` (default 300).
 */
export const watchModules = (modules: readonly string[], onChange: (files: string[]) => void, debounceMs = 300): ModuleWatcher => {
  const dirs = watchedDirs(modules);
  const changed = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  const watchers: FSWatcher[] = dirs.map((dir) =>
    watch(dir, { recursive: true }, (_event, file) => {
      if (file === null || !isWatchedFile(file)) return;
      changed.add(join(dir, file));
      clearTimeout(timer);
      timer = setTimeout(() => {
        const files = [...changed].sort();
        changed.clear();
        onChange(files);
      }, debounceMs);
    }),
  );
  return {
    dirs,
    close() {
      clearTimeout(timer);
      for (const w of watchers) w.close();
    },
  };
};
