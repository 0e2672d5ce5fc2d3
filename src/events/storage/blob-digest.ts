/**
 * Stream pieces shared by the blob store adapters: hashing bytes as they
 * pass (on `put`, to name and check them; on `get`, to check them against
 * their key), and parsing keys before anything is built from them.
 */
import { createHash, type Hash } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import { BlobCorrupt, BlobMismatch, BlobTooLarge, InvalidBlobKey, isBlobKey } from "./blob-store.js";

/** The largest blob an adapter accepts unless told otherwise: 8 GiB. */
export const DEFAULT_MAX_BLOB_BYTES = 8 * 1024 ** 3;

/** What a put may claim about its bytes. */
export interface Expected {
  /** Lower-case hex SHA-256. */
  readonly sha256: string;
  /** Bytes. */
  readonly size?: number;
}

/** SHA-256 (lower-case hex) and length of a byte stream. */
export interface Digest {
  readonly sha256: string;
  readonly size: number;
}

const HEX64 = /^[0-9a-f]{64}$/;

/**
 * The hex digest of a key, the only part of it an adapter may build a path
 * or an object name from.
 * @throws InvalidBlobKey unless `isBlobKey(key)`
 */
export const hexOfKey = (key: string): string => {
  if (typeof key !== "string" || !isBlobKey(key)) throw new InvalidBlobKey(String(key));
  return key.slice("sha256:".length);
};

/**
 * Checks a put's expectation before any byte is read.
 * @throws InvalidBlobKey for a hash that is not 64 lower-case hex digits;
 *   RangeError for a size that is not a non-negative integer;
 *   BlobTooLarge when the expected size alone is over `limit`.
 */
export const checkExpected = (expected: Expected | undefined, limit: number): void => {
  if (expected === undefined) return;
  if (typeof expected.sha256 !== "string" || !HEX64.test(expected.sha256)) {
    throw new InvalidBlobKey(`sha256:${String(expected.sha256)}`);
  }
  if (expected.size !== undefined && !(Number.isSafeInteger(expected.size) && expected.size >= 0)) {
    throw new RangeError(`expected.size must be a non-negative integer number of bytes, got ${String(expected.size)}`);
  }
  if (expected.size !== undefined && expected.size > limit) throw new BlobTooLarge(limit);
};

/** @throws RangeError unless `n` is a positive integer. */
export const checkLimit = (n: number): number => {
  if (!(Number.isSafeInteger(n) && n > 0)) throw new RangeError(`maxBlobBytes must be a positive integer, got ${String(n)}`);
  return n;
};

/** Whether `digest` meets `expected` (its hash, and its size when given). */
export const meets = (digest: Digest, expected: Expected): boolean =>
  digest.sha256 === expected.sha256 && (expected.size === undefined || digest.size === expected.size);

/**
 * A pass-through that hashes and counts the bytes of a blob being stored.
 * It fails with BlobTooLarge as soon as more than `limit` bytes have come
 * in (so a put stops reading at once), and, with `expected`, with
 * BlobMismatch at the end of the input, before signalling its own end: a
 * consumer that commits only on a clean end (a temp file renamed, an object
 * store's metadata published) never commits wrong bytes.
 */
export class PutDigest extends Transform {
  readonly #hash: Hash = createHash("sha256");
  readonly #limit: number;
  readonly #expected: Expected | undefined;
  #size = 0;
  #digest: Digest | undefined;
  /** The port error this stream failed with, if any (a wrapper may replace it with its own). */
  failure: BlobTooLarge | BlobMismatch | undefined;

  constructor(limit: number, expected?: Expected) {
    super();
    this.#limit = limit;
    this.#expected = expected;
  }

  /** The hash and size, once the input has ended. */
  get digest(): Digest {
    if (!this.#digest) throw new Error("PutDigest: the input has not ended");
    return this.#digest;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#size += chunk.length;
    if (this.#size > this.#limit) {
      this.failure = new BlobTooLarge(this.#limit);
      return callback(this.failure);
    }
    this.#hash.update(chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    this.#digest = { sha256: this.#hash.digest("hex"), size: this.#size };
    if (this.#expected && !meets(this.#digest, this.#expected)) {
      this.failure = new BlobMismatch(this.#expected, this.#digest);
      return callback(this.failure);
    }
    callback();
  }
}

/**
 * A pass-through that checks a stored blob's bytes against its key as they
 * are read. It holds back the most recent chunk until the input ends, so a
 * reader of a corrupt blob gets BlobCorrupt *instead of* its last bytes
 * (an HTTP response with a content-length then ends short, which the client
 * notices) rather than after all of them.
 */
export class GetDigest extends Transform {
  readonly #hash: Hash = createHash("sha256");
  readonly #key: string;
  readonly #hex: string;
  readonly #size: number | undefined;
  readonly #remedy: string;
  #count = 0;
  #held: Buffer | undefined;

  /**
   * @param size the size the store recorded, when it keeps one apart from the bytes.
   * @param remedy how to repair the blob, for the error's message.
   */
  constructor(key: string, size: number | undefined, remedy: string) {
    super();
    this.#key = key;
    this.#hex = hexOfKey(key);
    this.#size = size;
    this.#remedy = remedy;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#hash.update(chunk);
    this.#count += chunk.length;
    const previous = this.#held;
    this.#held = chunk;
    callback(null, previous);
  }

  override _flush(callback: TransformCallback): void {
    const sha256 = this.#hash.digest("hex");
    if (sha256 !== this.#hex || (this.#size !== undefined && this.#count !== this.#size)) {
      const recorded = this.#size === undefined || this.#size === this.#count ? "" : `, where ${this.#size} were recorded`;
      const reason = `its bytes hash to sha256:${sha256} (${this.#count} bytes${recorded}); ${this.#remedy}`;
      return callback(new BlobCorrupt(this.#key, reason));
    }
    callback(null, this.#held);
  }
}
