/**
 * A pre-flight check of an LMDB data file. LMDB trusts its file: opening a
 * damaged one can crash the process instead of throwing. Checking the meta
 * page's magic number first turns the common damage (a truncated, zeroed or
 * overwritten file) into an error we can report or repair.
 */
import { closeSync, existsSync, openSync, readSync, statSync } from "node:fs";
import { join } from "node:path";

const MAGIC = 0xbeefc0de;
/** Offset of the magic number in a meta page, after the page header. */
const MAGIC_OFFSET = 24;

/**
 * Why the LMDB file in `dir` cannot be opened safely, or `undefined` when
 * it looks sound (or does not exist yet).
 */
export const lmdbFileProblem = (dir: string): string | undefined => {
  const file = join(dir, "data.mdb");
  if (!existsSync(file)) return undefined;
  const size = statSync(file).size;
  if (size === 0) return undefined; // created, never written: LMDB initialises it
  if (size < 2 * 4096) return `${file} is truncated (${size} bytes)`;
  const buf = Buffer.alloc(MAGIC_OFFSET + 4);
  const fd = openSync(file, "r");
  try {
    readSync(fd, buf, 0, buf.length, 0);
  } finally {
    closeSync(fd);
  }
  if (buf.readUInt32LE(MAGIC_OFFSET) !== MAGIC) return `${file} is not an LMDB file (bad magic number in its meta page)`;
  return undefined;
};
