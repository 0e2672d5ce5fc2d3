/**
 * The blob store port: content-addressed bytes (assets' files, later large
 * results), kept outside the log. Keys are `sha256:<hex>` of the bytes, so
 * equal content is stored once, across assets, executions and environments
 * of a server. Adapters stream: no blob is ever held whole in memory.
 *
 * Adapters: `FsBlobStore` (files under the data directory; with the embedded
 * log) and `NatsBlobStore` (a JetStream object store; with `--nats`). Both
 * pass `test/contract/blob-store.contract.ts`.
 */
import type { Readable } from "node:stream";

export interface BlobInfo {
  /** `sha256:<hex>` */
  readonly key: string;
  readonly size: number;
  readonly sha256: string;
}

export interface BlobStore {
  /**
   * Stores the bytes read from `source` under their hash. With `expected`,
   * the bytes must have that hash and size, or nothing is stored. The source
   * is read to its end, or destroyed when the put fails.
   * @throws BlobMismatch when they do not; BlobTooLarge past the limit.
   */
  put(source: Readable, expected?: { readonly sha256: string; readonly size?: number }): Promise<BlobInfo>;
  /**
   * The blob's bytes, streamed. The stream checks them against the key as
   * they pass and fails with BlobCorrupt before delivering the last bytes if
   * they do not match.
   * @throws BlobNotFound; InvalidBlobKey
   */
  get(key: string): Promise<Readable>;
  /**
   * The blob's size and hash, or `undefined` if it is not stored.
   * @throws InvalidBlobKey; BlobCorrupt when the store can tell from its
   *   metadata alone that the stored object is not these bytes
   */
  stat(key: string): Promise<BlobInfo | undefined>;
  close(): Promise<void>;
}

export class BlobNotFound extends Error {
  override readonly name = "BlobNotFound";
  constructor(readonly key: string) {
    super(`no blob ${key}`);
  }
}

export class BlobMismatch extends Error {
  override readonly name = "BlobMismatch";
  constructor(
    readonly expected: { readonly sha256: string; readonly size?: number },
    readonly actual: { readonly sha256: string; readonly size: number },
  ) {
    super(
      `the bytes do not match: expected sha256 ${expected.sha256}${expected.size === undefined ? "" : ` (${expected.size} bytes)`}, got ${actual.sha256} (${actual.size} bytes)`,
    );
  }
}

export class BlobTooLarge extends Error {
  override readonly name = "BlobTooLarge";
  constructor(readonly limit: number) {
    super(`blob over the limit of ${limit} bytes (server option --max-blob-bytes)`);
  }
}

/**
 * A stored blob's bytes no longer hash to its key: the storage was damaged or
 * tampered with. Raised by `get` (by the returned stream, before it delivers
 * its last bytes) and, when the store can tell from its metadata alone, by
 * `stat`. The message says what is wrong and how to repair it.
 */
export class BlobCorrupt extends Error {
  override readonly name = "BlobCorrupt";
  constructor(
    readonly key: string,
    /** What is wrong and what to do, e.g. "its bytes hash to sha256:… (12 bytes); remove … and put the blob again". */
    readonly reason: string,
  ) {
    super(`blob ${key} is corrupt: ${reason}`);
  }
}

/** A string that is not a blob key (`sha256:` and 64 lower-case hex digits). Adapters never build a path or name from one. */
export class InvalidBlobKey extends Error {
  override readonly name = "InvalidBlobKey";
  constructor(readonly key: string) {
    const shown = key.length > 80 ? `${JSON.stringify(key.slice(0, 80))}…` : JSON.stringify(key);
    super(`not a blob key: ${shown} (expected sha256:<64 lower-case hex digits>)`);
  }
}

export const isBlobKey = (key: string): boolean => /^sha256:[0-9a-f]{64}$/.test(key);
export const keyOf = (sha256: string): string => `sha256:${sha256}`;
