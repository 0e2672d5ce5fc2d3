/**
 * The file system `BlobStore`: one file per blob under a directory, used
 * with the embedded log.
 *
 * ```
 * <dir>/ab/cdef…   the blob sha256:abcdef… (2 hex digits, then the other 62)
 * <dir>/tmp/       puts in progress
 * ```
 *
 * A put streams into a temp file while hashing, fsyncs it and renames it
 * into place, so a blob's file is either absent or complete: a crash leaves
 * at most a temp file, which a later store removes.
 */
import { randomBytes } from "node:crypto";
import { mkdir, open, readdir, rename, rm, stat, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { Writable, pipeline as pipelineCb, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { DEFAULT_MAX_BLOB_BYTES, GetDigest, PutDigest, checkExpected, checkLimit, hexOfKey, type Expected } from "./blob-digest.js";
import { BlobNotFound, keyOf, type BlobInfo, type BlobStore } from "./blob-store.js";

export interface FsBlobStoreOptions {
  /** The store's directory; created on first use. */
  readonly dir: string;
  /** Largest blob accepted, in bytes. Default 8 GiB. */
  readonly maxBlobBytes?: number;
}

/** Temp files older than this are left by a crashed put and removed on first use. */
const STALE_TEMP_MS = 60 * 60 * 1000;

/**
 * A {@link BlobStore} on the local file system.
 *
 * Durability: a put resolves after the blob's data and its directory entry
 * are fsynced, so a stored blob survives a power loss. Reads check the bytes
 * against the key (a damaged file fails with BlobCorrupt). Several stores
 * (or processes) may share a directory: renames are atomic and equal keys
 * mean equal bytes.
 *
 * @example
 * const blobs = new FsBlobStore({ dir: join(dataDir, "blobs") });
 * const { key } = await blobs.put(createReadStream("model.bin"));
 * (await blobs.get(key)).pipe(res);
 */
export class FsBlobStore implements BlobStore {
  readonly #dir: string;
  readonly #tmp: string;
  readonly #limit: number;
  #ready: Promise<void> | undefined;
  #closed = false;

  /** @throws RangeError for a `maxBlobBytes` that is not a positive integer. */
  constructor(options: FsBlobStoreOptions) {
    this.#dir = options.dir;
    this.#tmp = join(options.dir, "tmp");
    this.#limit = checkLimit(options.maxBlobBytes ?? DEFAULT_MAX_BLOB_BYTES);
  }

  /**
   * Streams `source` to a temp file while hashing it, then renames the file
   * into place (or drops it when the blob is already stored).
   * @throws BlobMismatch, BlobTooLarge (nothing is stored, the temp file is
   *   removed); InvalidBlobKey or RangeError for a malformed `expected`;
   *   the source's own error if it fails.
   */
  async put(source: Readable, expected?: Expected): Promise<BlobInfo> {
    let fh: FileHandle | undefined;
    let tmp: string | undefined;
    try {
      this.#checkOpen();
      checkExpected(expected, this.#limit);
      await this.#prepare();
      tmp = join(this.#tmp, `${Date.now()}-${randomBytes(8).toString("hex")}`);
      fh = await open(tmp, "wx");
      const digest = new PutDigest(this.#limit, expected);
      await pipeline(source, digest, fileSink(fh));
      await fh.close();
      fh = undefined;

      const { sha256, size } = digest.digest;
      const shard = join(this.#dir, sha256.slice(0, 2));
      const file = join(shard, sha256.slice(2));
      const existing = await sizeOf(file);
      if (existing === size) {
        // Stored already (equal hash, equal bytes): keep the file readers may have open.
        await rm(tmp, { force: true });
      } else {
        // A file of another size under this name is damaged: the rename replaces it.
        if ((await mkdir(shard, { recursive: true })) !== undefined) await syncDir(this.#dir);
        await rename(tmp, file);
        await syncDir(shard);
      }
      tmp = undefined;
      return { key: keyOf(sha256), size, sha256 };
    } catch (e) {
      if (!source.destroyed) source.destroy();
      throw e;
    } finally {
      await fh?.close().catch(() => undefined);
      if (tmp !== undefined) await rm(tmp, { force: true }).catch(() => undefined);
    }
  }

  /**
   * A read stream of the blob's file, checked against the key as it passes
   * (BlobCorrupt, in place of the last bytes, when the file was damaged).
   * @throws BlobNotFound; InvalidBlobKey
   */
  async get(key: string): Promise<Readable> {
    this.#checkOpen();
    const file = this.#fileOf(key);
    let fh: FileHandle;
    try {
      fh = await open(file, "r");
    } catch (e) {
      if (isCode(e, "ENOENT")) throw new BlobNotFound(key);
      throw e;
    }
    // Equal sizes make a put of the right bytes keep the damaged file: it must go first.
    const verify = new GetDigest(key, undefined, `remove ${file} and put the blob again`);
    // A reader that stops early destroys `verify`, which closes the file; a
    // read error reaches the reader through `verify`.
    pipelineCb(fh.createReadStream({ highWaterMark: READ_CHUNK }), verify, () => undefined);
    return verify;
  }

  /**
   * The blob's size from its file; the hash is the file's name (the bytes
   * are only checked by `get`).
   * @throws InvalidBlobKey
   */
  async stat(key: string): Promise<BlobInfo | undefined> {
    this.#checkOpen();
    const size = await sizeOf(this.#fileOf(key));
    return size === undefined ? undefined : { key, size, sha256: hexOfKey(key) };
  }

  /** Marks the store closed (later calls fail); streams already returned keep working. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
  }

  /** The path of a key's file, from its validated hex digits only. */
  #fileOf(key: string): string {
    const hex = hexOfKey(key);
    return join(this.#dir, hex.slice(0, 2), hex.slice(2));
  }

  #checkOpen(): void {
    if (this.#closed) throw new Error(`the blob store at ${this.#dir} is closed`);
  }

  /** Creates the directories and removes stale temp files, once (again after a failure). */
  #prepare(): Promise<void> {
    this.#ready ??= (async () => {
      await mkdir(this.#tmp, { recursive: true });
      await removeStaleTemps(this.#tmp);
    })().catch((e: unknown) => {
      this.#ready = undefined;
      throw e;
    });
    return this.#ready;
  }
}

/** Bytes per read of a blob file: larger than the 64 KiB default, for fewer hops through the streams. */
const READ_CHUNK = 512 * 1024;

const isCode = (e: unknown, code: string): boolean =>
  typeof e === "object" && e !== null && (e as { code?: unknown }).code === code;

/** A file's size, or `undefined` when it does not exist. */
const sizeOf = async (path: string): Promise<number | undefined> => {
  try {
    return (await stat(path)).size;
  } catch (e) {
    if (isCode(e, "ENOENT")) return undefined;
    throw e;
  }
};

/**
 * Writes into an open file and fsyncs it before finishing. (A FileHandle's
 * own write stream with `autoClose: false` keeps the handle from closing.)
 */
const fileSink = (fh: FileHandle): Writable =>
  new Writable({
    highWaterMark: READ_CHUNK,
    writev(chunks, callback) {
      writeAll(fh, chunks.map((c) => c.chunk as Buffer)).then(() => callback(), callback);
    },
    final(callback) {
      fh.sync().then(() => callback(), callback);
    },
  });

const writeAll = async (fh: FileHandle, buffers: Buffer[]): Promise<void> => {
  let pending = buffers.filter((b) => b.length > 0);
  while (pending.length > 0) {
    let { bytesWritten } = await fh.writev(pending);
    // A short write (rare on a regular file): continue after what was written.
    while (pending.length > 0 && bytesWritten >= pending[0]!.length) bytesWritten -= pending.shift()!.length;
    if (bytesWritten > 0) pending[0] = pending[0]!.subarray(bytesWritten);
  }
};

/** Makes a rename or a new entry in `dir` durable. */
const syncDir = async (dir: string): Promise<void> => {
  const fh = await open(dir, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
};

/**
 * Removes temp files a crashed put left. Only old ones: another store on the
 * same directory may be writing the recent ones.
 */
const removeStaleTemps = async (tmp: string): Promise<void> => {
  const cutoff = Date.now() - STALE_TEMP_MS;
  for (const name of await readdir(tmp)) {
    const path = join(tmp, name);
    const info = await stat(path).catch(() => undefined);
    if (info && info.mtimeMs < cutoff) await rm(path, { force: true });
  }
};
