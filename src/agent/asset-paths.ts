/**
 * Path safety for assets: what `persist()` may read and where `restore()`
 * may write. Everything stays inside a root directory (the execution's
 * working directory; for restore, the target directory):
 *
 * - Paths given by task code are relative to the working directory, or
 *   absolute inside it. A `..` segment is refused, wherever it is, even if
 *   the path would come back inside.
 * - persist: a symbolic link (the path itself, a directory on its way, or a
 *   file found while walking a directory) is followed when what it points to
 *   is inside the working directory: the file is stored under the link's
 *   own path. A link pointing outside is refused, as are a directory cycle
 *   through links, and anything that is not a regular file or a directory
 *   (sockets, FIFOs, devices).
 * - restore: entry paths must be relative, `/`-separated, without empty,
 *   `.` or `..` segments. Directories on the way are created; an existing
 *   symbolic link on the way is followed only if it resolves inside the
 *   target directory. A symbolic link at the entry's own path is replaced
 *   (files are renamed into place, which never follows a link).
 *
 * Checks happen before anything is uploaded or written. (Task code that
 * swaps a directory for a link while its own restore runs is not defended
 * against.)
 */
import { lstat, mkdir, readdir, realpath, stat } from "node:fs/promises";
import path from "node:path";
import { AssetPathError } from "./errors.js";

/** A file to persist. */
export interface LocalFile {
  /** The entry's path: relative to the root, `/`-separated. */
  readonly path: string;
  /** Where to read it: its real path (links resolved), inside the root. */
  readonly source: string;
  readonly size: number;
}

const isWindows = process.platform === "win32";
const SEPARATORS = isWindows ? /[\\/]/ : /\//;

/** Is `p` (absolute, normalised) `root` itself or below it? */
export const isInside = (root: string, p: string): boolean => {
  const rel = path.relative(root, p);
  return rel === "" || (rel !== ".." && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
};

/**
 * A path given by task code, checked without touching the disk: relative to
 * `root` (or absolute inside it), no `..`. Returns it relative to `root`,
 * `/`-separated, normalised (`""` for the root itself).
 * @param what how the caller is named in messages, e.g. `persist()`.
 * @throws AssetPathError
 */
export const relativeInside = (root: string, given: unknown, what: string): string => {
  if (typeof given !== "string" || given === "") throw new AssetPathError(`${what}: expected a non-empty path, got ${JSON.stringify(given) ?? String(given)}`);
  if (given.includes("\0")) throw new AssetPathError(`${what}: the path ${JSON.stringify(given)} contains a NUL character`);
  if (given.split(SEPARATORS).includes("..")) {
    throw new AssetPathError(`${what}: the path ${JSON.stringify(given)} contains "..": paths must stay inside the working directory ${root}`);
  }
  const abs = path.resolve(root, given);
  if (!isInside(root, abs)) {
    throw new AssetPathError(`${what}: the path ${JSON.stringify(given)} is outside the working directory ${root} (use a path relative to it, or context().workdir)`);
  }
  const rel = path.relative(root, abs);
  return rel === "" ? "" : rel.split(path.sep).join("/");
};

/**
 * Why an entry path of an asset is unsafe to restore, or `undefined` if it
 * is safe: relative, `/`-separated, no empty, `.` or `..` segment.
 */
export const entryPathProblem = (p: unknown): string | undefined => {
  if (typeof p !== "string" || p === "") return "the path is empty";
  if (p.length > 4096) return "the path is longer than 4096 characters";
  if (p.includes("\0")) return "the path contains a NUL character";
  if (p.startsWith("/") || (isWindows && (p.includes("\\") || /^[A-Za-z]:/.test(p)))) return "the path is absolute";
  const segments = p.split("/");
  if (segments.includes("..")) return 'the path contains ".."';
  if (segments.some((s) => s === "" || s === ".")) return 'the path has an empty or "." segment';
  return undefined;
};

/**
 * Checks the entries of an asset before restoring it: safe paths, no
 * duplicate, no file that is also a directory of another entry.
 * @throws AssetPathError naming the asset and the entry.
 */
export const checkEntryPaths = (assetId: string, paths: readonly string[]): void => {
  const files = new Set<string>();
  for (const p of paths) {
    const problem = entryPathProblem(p);
    if (problem !== undefined) throw new AssetPathError(`asset ${assetId}: entry ${JSON.stringify(p)}: ${problem}: refused (restoring never writes outside the target directory)`);
    if (files.has(p)) throw new AssetPathError(`asset ${assetId}: entry ${p} is listed twice`);
    files.add(p);
  }
  for (const p of paths) {
    const segments = p.split("/");
    for (let i = 1; i < segments.length; i++) {
      const dir = segments.slice(0, i).join("/");
      if (files.has(dir)) throw new AssetPathError(`asset ${assetId}: entry ${dir} is a file and also the directory of entry ${p}`);
    }
  }
};

const code = (err: unknown): string | undefined => (err as NodeJS.ErrnoException | undefined)?.code;

/**
 * The files that `given` paths name, with directories walked recursively
 * (in name order), each once, with its entry path relative to `root`.
 * @throws AssetPathError for a path outside `root`, a missing path, a link
 *   pointing out, a directory cycle, a special file.
 */
export const collectFiles = async (root: string, given: readonly unknown[], what: string): Promise<LocalFile[]> => {
  const realRoot = await realpath(root);
  const found = new Map<string, LocalFile>();
  const show = (rel: string): string => (rel === "" ? `the working directory ${root}` : rel);

  const visit = async (rel: string, real: string, ancestors: readonly string[]): Promise<void> => {
    if (!isInside(realRoot, real)) {
      throw new AssetPathError(`${what}: ${show(rel)} is a symbolic link, or under one, that points outside the working directory (to ${real}): refused`);
    }
    let st;
    try {
      st = await stat(real);
    } catch (err) {
      throw new AssetPathError(`${what}: cannot read ${show(rel)}: ${(err as Error).message}`);
    }
    if (st.isFile()) {
      if (!found.has(rel)) found.set(rel, { path: rel, source: real, size: st.size });
      return;
    }
    if (!st.isDirectory()) throw new AssetPathError(`${what}: ${show(rel)} is neither a regular file nor a directory`);
    if (ancestors.includes(real)) throw new AssetPathError(`${what}: ${show(rel)} is a symbolic link to a directory that contains it (a cycle)`);
    const inner = [...ancestors, real];
    const names = (await readdir(real)).sort();
    for (const name of names) {
      const childRel = rel === "" ? name : `${rel}/${name}`;
      const child = path.join(real, name);
      let cst;
      try {
        cst = await lstat(child);
      } catch (err) {
        if (code(err) === "ENOENT") continue; // removed while walking
        throw err;
      }
      let childReal = child;
      if (cst.isSymbolicLink()) {
        try {
          childReal = await realpath(child);
        } catch {
          throw new AssetPathError(`${what}: ${childRel} is a symbolic link to nothing (dangling)`);
        }
      }
      await visit(childRel, childReal, inner);
    }
  };

  for (const g of given) {
    const rel = relativeInside(root, g, what);
    const lexical = rel === "" ? root : path.join(root, rel);
    let real: string;
    try {
      real = await realpath(lexical);
    } catch (err) {
      const why = code(err) === "ENOENT" ? "does not exist" : `cannot be read: ${(err as Error).message}`;
      throw new AssetPathError(`${what}: ${show(rel)} ${why} (relative paths are relative to the working directory ${root})`);
    }
    await visit(rel, real, []);
  }
  return [...found.values()];
};

/**
 * Makes the directory `rel` (relative, checked by {@link relativeInside} or
 * {@link entryPathProblem}) under `root`, one segment at a time, refusing a
 * symbolic link that resolves outside `root` or a file on the way.
 * @returns the directory's real path.
 * @throws AssetPathError
 */
export const ensureDirInside = async (root: string, rel: string, what: string): Promise<string> => {
  const realRoot = await realpath(root);
  let current = realRoot;
  const segments = rel === "" ? [] : rel.split("/");
  if (segments.some((s) => s === "" || s === "." || s === ".." || s.includes("\0") || (isWindows && s.includes("\\")))) {
    throw new AssetPathError(`${what}: ${JSON.stringify(rel)} is not a safe relative path`);
  }
  for (let i = 0; i < segments.length; i++) {
    const shown = segments.slice(0, i + 1).join("/");
    const next = path.join(current, segments[i] as string);
    let st;
    try {
      st = await lstat(next);
    } catch (err) {
      if (code(err) !== "ENOENT") throw err;
      try {
        await mkdir(next);
        current = next;
        continue;
      } catch (e) {
        if (code(e) !== "EEXIST") throw e;
        st = await lstat(next); // made meanwhile (another entry of the same restore)
      }
    }
    if (st.isSymbolicLink()) {
      let real: string;
      try {
        real = await realpath(next);
      } catch {
        throw new AssetPathError(`${what}: ${shown} is a symbolic link to nothing (dangling): refused`);
      }
      if (!isInside(realRoot, real)) throw new AssetPathError(`${what}: ${shown} is a symbolic link that points outside ${root} (to ${real}): refused`);
      if (!(await stat(real)).isDirectory()) throw new AssetPathError(`${what}: ${shown} exists and is not a directory`);
      current = real;
    } else if (st.isDirectory()) current = next;
    else throw new AssetPathError(`${what}: ${shown} exists and is not a directory`);
  }
  return current;
};

/**
 * Where to write an entry (checked by {@link checkEntryPaths}) under the
 * target directory `root`: its directories are made (see
 * {@link ensureDirInside}); an existing directory at the entry's path is
 * refused. A file or a link there will be replaced by a rename.
 * @returns the file's path, its directory being a real path inside `root`.
 */
export const prepareTarget = async (root: string, entryPath: string, what: string): Promise<string> => {
  const slash = entryPath.lastIndexOf("/");
  const dir = await ensureDirInside(root, slash < 0 ? "" : entryPath.slice(0, slash), what);
  const name = entryPath.slice(slash + 1);
  if (name === "" || name === "." || name === ".." || (isWindows && name.includes("\\"))) throw new AssetPathError(`${what}: ${JSON.stringify(entryPath)} is not a safe relative path`);
  const file = path.join(dir, name);
  try {
    if ((await lstat(file)).isDirectory()) throw new AssetPathError(`${what}: ${entryPath} exists and is a directory`);
  } catch (err) {
    if (code(err) !== "ENOENT") throw err;
  }
  return file;
};
