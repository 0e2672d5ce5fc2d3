/**
 * The lock of a data directory: one server at a time uses it (its
 * projections, task logs and embedded log would be corrupted by two).
 *
 * A lock file, `<data>/server.lock`, made with `O_EXCL` (creation fails if it
 * exists, atomically, on every local file system), holding the owner's pid,
 * host and process start time. A lock whose process is gone (a crash, kill
 * -9) is stale and is taken over; the start time tells a live process that
 * merely reuses the pid. Taking over goes through a second, short-lived
 * `O_EXCL` file, so two servers that find the same stale lock cannot both
 * win. No native module (flock is not in Node), and the lock says who holds
 * it, which the refusal names.
 */
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";

/** Another live server holds the data directory. */
export class DataDirLocked extends Error {
  override name = "DataDirLocked";
  constructor(
    message: string,
    readonly pid: number,
  ) {
    super(message);
  }
}

interface Owner {
  readonly pid: number;
  readonly host: string;
  /** Process start time (Linux: clock ticks since boot, from /proc), when known. */
  readonly start?: string;
  readonly since: string;
}

const LOCK = "server.lock";
/** A takeover that has held its file longer than this died mid-way. */
const TAKEOVER_STALE_MS = 10_000;
/** A lock file that cannot be read yet may be being written: wait this long before calling it torn. */
const UNREADABLE_GRACE_MS = 2_000;

const ageMs = (file: string): number => {
  try {
    return Date.now() - statSync(file).mtimeMs;
  } catch {
    return 0;
  }
};

const pause = (ms: number): void => void Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** The start time of a process, from /proc (Linux); `undefined` elsewhere or if it is gone. */
const startOf = (pid: number): string | undefined => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Field 22, counted after the command name (which may hold spaces) in parentheses.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
};

const isAlive = (o: Owner): boolean => {
  try {
    process.kill(o.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  // The pid is in use: by the owner, unless it started at another time.
  if (o.start === undefined) return true;
  const now = startOf(o.pid);
  return now === undefined || now === o.start;
};

const readOwner = (file: string): Owner | undefined => {
  try {
    const o = JSON.parse(readFileSync(file, "utf8")) as Partial<Owner>;
    return Number.isSafeInteger(o.pid) && typeof o.host === "string" ? (o as Owner) : undefined;
  } catch {
    return undefined;
  }
};

/** Creates `file` with `text` if it does not exist; `false` if it does. */
const createExclusive = (file: string, text: string): boolean => {
  let fd: number;
  try {
    fd = openSync(file, "wx", 0o644);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw e;
  }
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
  return true;
};

export class DataDirLock {
  private released = false;

  private constructor(
    readonly file: string,
    private readonly text: string,
  ) {}

  /**
   * Takes the lock of `dir` (made if missing).
   * @throws DataDirLocked naming the pid (and host) of the live server that holds it.
   */
  static acquire(dir: string): DataDirLock {
    // The server's alone: the log, the blobs and the admin token are in it.
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const file = join(dir, LOCK);
    const me: Owner = { pid: process.pid, host: hostname(), ...(startOf(process.pid) === undefined ? {} : { start: startOf(process.pid)! }), since: new Date().toISOString() };
    const text = JSON.stringify(me) + "\n";
    for (let attempt = 0; attempt < 50; attempt++) {
      if (createExclusive(file, text)) return new DataDirLock(file, text);
      const owner = readOwner(file);
      if (owner && owner.host !== me.host) {
        throw new DataDirLocked(
          `the data directory ${dir} is locked by the server with pid ${owner.pid} on host ${owner.host} (since ${owner.since}): ` +
            `stop it, or if it is gone remove ${file}`,
          owner.pid,
        );
      }
      if (owner && isAlive(owner)) {
        throw new DataDirLocked(
          `the data directory ${dir} is in use by another server (pid ${owner.pid}, since ${owner.since}): stop it first, or give this one another --data`,
          owner.pid,
        );
      }
      if (owner === undefined && ageMs(file) < UNREADABLE_GRACE_MS) {
        pause(50); // being written by a server starting now
        continue;
      }
      // Stale (its process is gone) or unreadable for long (torn by a crash while it was written): take it over.
      if (!takeOver(file, owner === undefined ? undefined : JSON.stringify(owner))) pause(50);
    }
    throw new Error(`could not lock the data directory ${dir}: ${file} keeps changing; is another server starting?`);
  }

  /** Removes the lock file, if it is still ours. Synchronous, so that it can run in an `exit` handler. */
  release(): void {
    if (this.released) return;
    this.released = true;
    try {
      if (readFileSync(this.file, "utf8") === this.text) rmSync(this.file, { force: true });
    } catch {
      // already gone
    }
  }
}

/** Removes a stale lock, under a takeover file so that two servers cannot both remove and recreate it. */
const takeOver = (file: string, seen: string | undefined): boolean => {
  const guard = `${file}.takeover`;
  if (!createExclusive(guard, String(process.pid))) {
    if (ageMs(guard) > TAKEOVER_STALE_MS) rmSync(guard, { force: true });
    return false;
  }
  try {
    // Still the stale lock we judged? (Another server may have taken it over meanwhile.)
    const now = readOwner(file);
    if ((now === undefined ? undefined : JSON.stringify(now)) === seen) rmSync(file, { force: true });
    return true;
  } finally {
    rmSync(guard, { force: true });
  }
};
