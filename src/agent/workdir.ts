/**
 * The executions' working directories: `<root>/<executionId>/`, where root
 * is `<tmp>/tributary-agent-<pid>/` unless the agent's `workdirRoot` option
 * says otherwise. The agent makes the root (mode 700) at start; a worker
 * makes an execution's directory before running it and removes it after
 * (unless `keepWorkdirs`); the agent removes those of executions whose worker
 * went away, and the root itself at stop if it is empty.
 */
import { createHash } from "node:crypto";
import { lstat, mkdir, rm, rmdir } from "node:fs/promises";
import os from "node:os";
import path from "node:path";

export const defaultWorkdirRoot = (): string => path.join(os.tmpdir(), `tributary-agent-${process.pid}`);

/** The working directory of an execution under `root` (ids that are not plain names are hashed). */
export const workdirOf = (root: string, executionId: string): string =>
  path.join(root, /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/.test(executionId) ? executionId : `x-${createHash("sha256").update(executionId).digest("hex").slice(0, 32)}`);

/**
 * Makes the root (mode 700), or checks the one there: a directory, not a
 * link, of this user (the default root has a guessable name in a shared
 * temporary directory).
 */
export const prepareWorkdirRoot = async (root: string): Promise<void> => {
  try {
    await mkdir(root, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new Error(`cannot make the agent's working directory root ${root}: ${(err as Error).message}`);
  }
  const st = await lstat(root);
  if (st.isSymbolicLink() || !st.isDirectory()) throw new Error(`the agent's working directory root ${root} is not a directory (a symbolic link?): refusing to use it`);
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) throw new Error(`the agent's working directory root ${root} belongs to another user: refusing to use it`);
};

/** Makes an execution's directory, empty (what an earlier attempt left there is removed). */
export const makeWorkdir = async (root: string, dir: string): Promise<void> => {
  await rm(dir, { recursive: true, force: true });
  try {
    await mkdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    await prepareWorkdirRoot(root); // removed meanwhile (another agent of this process stopped)
    await mkdir(dir);
  }
};

export const removeWorkdir = (dir: string): Promise<void> => rm(dir, { recursive: true, force: true, maxRetries: 2 });

/** Removes the working directory of an execution under `root`; what could not be removed is said through `warn`. */
export const removeWorkdirOf = (root: string, executionId: string, warn: (message: string) => void): Promise<void> => {
  const dir = workdirOf(root, executionId);
  return removeWorkdir(dir).catch((err: unknown) => warn(`could not remove the working directory ${dir}: ${(err as Error).message}`));
};

/** Removes the root if it is empty. */
export const removeWorkdirRoot = async (root: string): Promise<void> => {
  try {
    await rmdir(root);
  } catch {
    // not empty (kept directories, another agent of this process), or gone
  }
};
