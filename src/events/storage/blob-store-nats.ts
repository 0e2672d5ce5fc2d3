/**
 * The NATS `BlobStore`: a JetStream object store (one bucket, default
 * `tributary-blobs`), used with `--nats`. The object name of a blob is its
 * hex SHA-256.
 *
 * ## Integrity: a name never points at wrong bytes
 *
 * An object is chunks plus one metadata message (name → chunks, size,
 * digest), published after the last chunk; the name resolves the moment it
 * is. The object store has no rename, and its client computes the digest
 * from what it sent, so it cannot refuse bytes that do not match a name. So:
 *
 * - **Put with `expected`** (the server's path: the key is in the URL)
 *   uploads straight under the claimed name. The bytes pass through a
 *   hashing stream that, at the end of the input and *before* signalling
 *   that end, fails with BlobMismatch if they do not match. The object
 *   store client only publishes the metadata after a clean end, so on a
 *   mismatch it never does: it purges the chunks it wrote and rejects.
 *   Nothing ever appeared under the name. The metadata is published with
 *   an expected-last-subject-sequence (the name's revision as first seen, 0
 *   for none): of two concurrent puts of the same blob one wins and the
 *   other's chunks are purged, and a good blob is never replaced. A blob
 *   already stored is not uploaded again: the source is only hashed.
 * - **Put without `expected`** cannot know the name before the end, so it
 *   uploads under a temporary name `tmp-<random>`, then renames by
 *   publishing the same metadata under the hash's name (with the same
 *   expected-sequence fence) and purging the temporary metadata. A crash
 *   between the two leaves a complete `tmp-…` object, never a wrong name.
 * - **Get and stat** check the metadata's digest against the name before
 *   anything is served (BlobCorrupt otherwise), and `get` hashes the bytes as
 *   they stream and fails with BlobCorrupt in place of the last chunk when
 *   they do not hash to the name.
 *
 * The rename, the fenced metadata and the chunk reads use the object store's
 * wire layout (ADR-20, shared by every NATS client): stream `OBJ_<bucket>`,
 * metadata on `$O.<bucket>.M.<base64url(name)>`, chunks on
 * `$O.<bucket>.C.<nuid>`. `get` reads the chunks with a pull consumer rather
 * than the client's `get()`, whose push consumer would buffer a whole blob in
 * memory behind a slow reader.
 *
 * Every `@nats-io` error is translated here; no vendor type crosses this
 * file's exported API.
 */
import { randomBytes } from "node:crypto";
import { Readable, pipeline } from "node:stream";
import {
  JetStreamApiCodes,
  JetStreamApiError,
  JsHeaders,
  jetstreamManager,
  type Consumer,
  type JetStreamClient,
  type JetStreamManager,
} from "@nats-io/jetstream";
import { Objm, StorageType, setSha256Backend, type ObjectInfo, type ObjectStore } from "@nats-io/obj";
import { connect, headers, type NatsConnection } from "@nats-io/transport-node";
import { describeNatsError, natsAuth, type NatsAuthOptions } from "./nats-auth.js";
import { closeNats, messageOf } from "./nats.js";
import { blobInfo, chunkSubject, chunksOf, damageOf, hexOfDigest, metaSubject } from "./object-store-wire.js";
import { DEFAULT_MAX_BLOB_BYTES, GetDigest, PutDigest, checkExpected, checkLimit, hexOfKey, type Expected } from "./blob-digest.js";
import {
  BlobCorrupt,
  BlobMismatch,
  BlobNotFound,
  BlobTooLarge,
  InvalidBlobKey,
  keyOf,
  type BlobInfo,
  type BlobStore,
} from "./blob-store.js";

/** Where and how to connect (`servers`, `creds`: see {@link NatsAuthOptions}), and the rest. */
export interface NatsBlobStoreOptions extends NatsAuthOptions {
  /** Object store bucket (letters, digits, `-`, `_`); created if missing. Default `tributary-blobs`. */
  readonly bucket?: string;
  /** Largest blob accepted, in bytes. Default 8 GiB. */
  readonly maxBlobBytes?: number;
  /** Connection name shown by the server's monitoring. Default `tributary-blobs`. */
  readonly name?: string;
  /** Timeout of each JetStream request (a chunk's ack, a lookup), in ms. Default 5 s. */
  readonly timeoutMs?: number;
}

/** The default bucket. */
export const DEFAULT_BLOB_BUCKET = "tributary-blobs";

/**
 * Bytes per chunk (one message each; the server's `max_payload` caps it).
 * Each chunk is one acknowledged publish, so larger chunks mean fewer round
 * trips; 1 MiB is the default `max_payload`.
 */
const CHUNK_BYTES = 1024 * 1024;
/** How many bytes of chunks a read asks for ahead of its reader. */
const READ_AHEAD_BYTES = 8 * 1024 * 1024;
/** How long `close()` lets pending work drain before closing outright. */
const DRAIN_TIMEOUT_MS = 2_000;

/**
 * A {@link BlobStore} on a NATS JetStream object store (nats-server 2.9 or
 * later). Durability is the server's (see the event log's notes: an acked
 * put survives a server crash, not a power loss on a single node).
 *
 * @example
 * const blobs = await NatsBlobStore.connect({ servers: "nats://127.0.0.1:4222" });
 * const info = await blobs.put(req, { sha256, size });
 * await blobs.close();
 */
export class NatsBlobStore implements BlobStore {
  readonly #nc: NatsConnection;
  readonly #jsm: JetStreamManager;
  readonly #js: JetStreamClient;
  readonly #os: ObjectStore;
  readonly #bucket: string;
  readonly #stream: string;
  readonly #limit: number;
  readonly #timeoutMs: number;
  #closing: Promise<void> | undefined;

  private constructor(nc: NatsConnection, jsm: JetStreamManager, os: ObjectStore, bucket: string, limit: number, timeoutMs: number) {
    this.#nc = nc;
    this.#jsm = jsm;
    this.#js = jsm.jetstream();
    this.#os = os;
    this.#bucket = bucket;
    this.#stream = `OBJ_${bucket}`;
    this.#limit = limit;
    this.#timeoutMs = timeoutMs;
  }

  /**
   * Connects and opens (or creates, file-backed) the bucket.
   * @throws Error naming the servers when none can be reached, JetStream is
   *   off or the bucket cannot be opened; RangeError for bad options.
   */
  static async connect(options: NatsBlobStoreOptions): Promise<NatsBlobStore> {
    const bucket = options.bucket ?? DEFAULT_BLOB_BUCKET;
    if (!/^[-\w]+$/.test(bucket)) throw new RangeError(`invalid bucket name ${JSON.stringify(bucket)}: use letters, digits, - and _`);
    const limit = checkLimit(options.maxBlobBytes ?? DEFAULT_MAX_BLOB_BYTES);
    const timeoutMs = options.timeoutMs ?? 5_000;
    const auth = natsAuth(options);
    const servers = auth.display;
    // The client hashes every chunk it writes; its default pure-JS SHA-256
    // caps a put near 50 MiB/s, Node's is several times faster. (Process-wide.)
    setSha256Backend("native");
    let nc: NatsConnection;
    try {
      // A server outlives NATS restarts: keep reconnecting; requests time out meanwhile.
      nc = await connect({ ...auth.options, name: options.name ?? "tributary-blobs", maxReconnectAttempts: -1 });
    } catch (cause) {
      throw new Error(describeNatsError(servers, cause, messageOf), { cause });
    }
    try {
      const jsm = await jetstreamManager(nc, { timeout: timeoutMs });
      const os = await new Objm(jsm.jetstream()).create(bucket, { storage: StorageType.File });
      return new NatsBlobStore(nc, jsm, os, bucket, limit, timeoutMs);
    } catch (cause) {
      await nc.close().catch(() => undefined);
      throw new Error(`cannot open the object store ${bucket} on NATS at ${String(servers)}: ${messageOf(cause)}`, { cause });
    }
  }

  /**
   * Uploads the source's bytes in chunks as they are read (see the file's
   * notes for how wrong bytes are kept from the name).
   * @throws BlobMismatch, BlobTooLarge (nothing is stored, the chunks
   *   written are purged); InvalidBlobKey or RangeError for a malformed
   *   `expected`; the source's own error if it fails; Error when NATS fails.
   */
  async put(source: Readable, expected?: Expected): Promise<BlobInfo> {
    // The source's own failure (a client that hung up) is passed on as it is.
    let sourceError: unknown;
    const onSourceError = (e: unknown) => (sourceError ??= e);
    source.once("error", onSourceError);
    try {
      this.#checkOpen();
      checkExpected(expected, this.#limit);
      const digest = new PutDigest(this.#limit, expected);
      if (expected === undefined) return await this.#putUnnamed(source, digest);
      const existing = await this.#os.info(expected.sha256);
      if (existing && !existing.deleted && damageOf(existing, expected.sha256) === undefined) {
        // Stored already: only check the bytes (BlobMismatch if they are wrong).
        await new Promise<void>((resolve, reject) =>
          pipeline(source, digest, (e) => (e ? reject(digest.failure ?? e) : resolve())).resume(),
        );
        return blobInfo(expected.sha256, existing.size);
      }
      try {
        // Fenced on the revision seen: a damaged or deleted entry is replaced, a concurrent put's good one is not.
        const info = await this.#upload(expected.sha256, source, digest, existing?.revision ?? 0);
        return this.#confirm(info, digest, expected.sha256);
      } catch (e) {
        if (!isWrongLastSequence(e)) throw e;
        // Another put of the same bytes published first; ours was purged.
        return await this.#storedOrFail(expected.sha256);
      }
    } catch (e) {
      if (!source.destroyed) source.destroy();
      if (e === sourceError) throw e;
      throw this.#translate(e, "store a blob in");
    } finally {
      source.off("error", onSourceError);
    }
  }

  /**
   * The blob's bytes, read chunk by chunk as the reader consumes them and
   * checked against the key (BlobCorrupt in place of the last chunk).
   * @throws BlobNotFound; BlobCorrupt when the stored metadata does not
   *   match the key or chunks are missing; InvalidBlobKey; Error when NATS fails.
   */
  async get(key: string): Promise<Readable> {
    const hex = hexOfKey(key);
    this.#checkOpen();
    const info = await this.#liveInfo(key, hex, "read");
    if (!info) throw new BlobNotFound(key);
    // The metadata is intact, so a put of the right bytes would keep the object: it must go first.
    const remedy = `delete the object ${hex} from the bucket ${this.#bucket} (nats object rm ${this.#bucket} ${hex}) and put the blob again`;
    const verify = new GetDigest(key, info.size, remedy);
    if (info.chunks === 0) return verify.end();
    let consumer: Consumer;
    try {
      consumer = await this.#js.consumers.get(this.#stream, { filter_subjects: chunkSubject(this.#bucket, info.nuid) });
    } catch (e) {
      throw this.#translate(e, `read blob ${key} from`);
    }
    try {
      const stored = (await consumer.info(true)).num_pending;
      if (stored < info.chunks) throw new BlobCorrupt(key, `only ${stored} of its ${info.chunks} chunks are stored; ${remedy}`);
    } catch (e) {
      void consumer.delete().catch(() => undefined);
      throw this.#translate(e, `read blob ${key} from`);
    }
    // Ask for about READ_AHEAD_BYTES of chunks at a time, counted in messages: a
    // byte-limited pull whose remainder is smaller than one chunk stalls until
    // the consumer's heartbeats time out (seen here with 1 MiB chunks).
    const chunkBytes = info.options?.max_chunk_size ?? CHUNK_BYTES;
    const batch = Math.max(2, Math.floor(READ_AHEAD_BYTES / chunkBytes));
    const chunks = Readable.from(chunksOf(consumer, info.chunks, batch, key, (e) => this.#translate(e, `read blob ${key} from`)), { objectMode: false, highWaterMark: CHUNK_BYTES });
    // A reader that stops early destroys `verify`, which ends the consumer.
    pipeline(chunks, verify, () => undefined);
    return verify;
  }

  /**
   * The blob's size and hash from its metadata, checked against the key.
   * @throws BlobCorrupt when the metadata does not match the key; InvalidBlobKey; Error when NATS fails.
   */
  async stat(key: string): Promise<BlobInfo | undefined> {
    const hex = hexOfKey(key);
    this.#checkOpen();
    const info = await this.#liveInfo(key, hex, "look up");
    return info && blobInfo(hex, info.size);
  }

  /** Drains the connection and closes it; streams still reading fail. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= closeNats(this.#nc, DRAIN_TIMEOUT_MS);
    return this.#closing;
  }

  /** Uploads under a temporary name, then renames to the hash (see the file's notes). */
  async #putUnnamed(source: Readable, digest: PutDigest): Promise<BlobInfo> {
    const tmp = `tmp-${randomBytes(12).toString("hex")}`;
    const info = await this.#upload(tmp, source, digest);
    try {
      const { sha256 } = digest.digest;
      this.#confirm(info, digest, sha256);
      const target = await this.#os.info(sha256);
      if (target && !target.deleted && damageOf(target, sha256) === undefined) {
        await this.#discard(tmp, info.nuid);
        return blobInfo(sha256, target.size);
      }
      const raw = await this.#jsm.streams.getMessage(this.#stream, { last_by_subj: metaSubject(this.#bucket, tmp) });
      if (!raw) throw new Error(`the temporary object ${tmp} disappeared before it was renamed`);
      const meta: Record<string, unknown> = { ...raw.json<Record<string, unknown>>(), name: sha256 };
      delete meta.revision;
      const h = headers();
      h.set(JsHeaders.RollupHdr, JsHeaders.RollupValueSubject);
      try {
        await this.#js.publish(metaSubject(this.#bucket, sha256), JSON.stringify(meta), {
          headers: h,
          expect: { lastSubjectSequence: target?.revision ?? 0 },
          timeout: this.#timeoutMs,
        });
      } catch (e) {
        if (!isWrongLastSequence(e)) throw e;
        // A concurrent put of the same bytes renamed first: keep theirs.
        await this.#discard(tmp, info.nuid);
        return await this.#storedOrFail(sha256);
      }
      // The chunks now belong to the hash's name; drop the temporary name, and the chunks of a damaged entry replaced.
      await this.#purge(metaSubject(this.#bucket, tmp));
      if (target && !target.deleted) await this.#purge(chunkSubject(this.#bucket, target.nuid)).catch(() => undefined);
      return blobInfo(sha256, info.size);
    } catch (e) {
      await this.#discard(tmp, info.nuid).catch(() => undefined);
      throw e;
    }
  }

  /**
   * Streams `source` through `digest` into the object `name`. A failure of
   * the digest (BlobMismatch at the end, BlobTooLarge on the way) errors the
   * stream the object store client reads, which then purges the chunks it
   * wrote and publishes no metadata.
   */
  async #upload(name: string, source: Readable, digest: PutDigest, previousRevision?: number): Promise<ObjectInfo> {
    let streamError: Error | null | undefined;
    pipeline(source, digest, (e) => (streamError = e));
    const web = Readable.toWeb(digest) as unknown as ReadableStream<Uint8Array>;
    try {
      return await this.#os.put({ name, options: { max_chunk_size: CHUNK_BYTES } }, web, {
        timeout: this.#timeoutMs,
        ...(previousRevision === undefined ? {} : { previousRevision }),
      });
    } catch (e) {
      digest.destroy();
      throw digest.failure ?? streamError ?? e;
    }
  }

  /**
   * Defense in depth: the object store client computed its own digest of
   * what it published; it must be ours. (Both are over the same bytes; a
   * difference means a bug, and the object is removed rather than served.)
   */
  #confirm(info: ObjectInfo, digest: PutDigest, hex: string): BlobInfo {
    const ours = digest.digest;
    if (hexOfDigest(info.digest) !== ours.sha256 || info.size !== ours.size) {
      void this.#discard(info.name, info.nuid).catch(() => undefined);
      throw new Error(
        `the object store recorded ${info.digest} (${info.size} bytes) for bytes hashing to sha256:${ours.sha256} (${ours.size} bytes); the object was removed`,
      );
    }
    return blobInfo(hex, ours.size);
  }

  /** The blob a concurrent put stored, or an error if it is not there after all. */
  async #storedOrFail(hex: string): Promise<BlobInfo> {
    const info = await this.#liveInfo(keyOf(hex), hex, "look up");
    if (!info) throw new Error(`a concurrent put of blob ${keyOf(hex)} won the race, but the blob is not stored`);
    return blobInfo(hex, info.size);
  }

  /** The live object for `hex`, or `undefined`; BlobCorrupt when its metadata does not match the name. */
  async #liveInfo(key: string, hex: string, doing: string): Promise<ObjectInfo | undefined> {
    const info = await this.#os.info(hex).catch((e: unknown) => {
      throw this.#translate(e, `${doing} blob ${key} in`);
    });
    if (!info || info.deleted) return undefined;
    const damage = damageOf(info, hex);
    if (damage !== undefined) throw new BlobCorrupt(key, damage);
    return info;
  }

  /** Removes a temporary object: its metadata, then its chunks (no delete marker is left behind). */
  async #discard(name: string, nuid: string): Promise<void> {
    await this.#purge(metaSubject(this.#bucket, name));
    await this.#purge(chunkSubject(this.#bucket, nuid));
  }

  async #purge(subject: string): Promise<void> {
    await this.#jsm.streams.purge(this.#stream, { filter: subject });
  }

  #checkOpen(): void {
    if (this.#closing || this.#nc.isClosed()) throw new Error(`the blob store (NATS bucket ${this.#bucket}) is closed`);
  }

  /** Port errors pass; anything else becomes an Error saying what failed. */
  #translate(cause: unknown, doing: string): Error {
    if (isOwnError(cause)) return cause;
    if (this.#closing || this.#nc.isClosed()) {
      return new Error(`cannot ${doing} the object store ${this.#bucket}: the blob store is closed`, { cause });
    }
    return new Error(`cannot ${doing} the object store ${this.#bucket}: ${messageOf(cause)}`, { cause });
  }
}

const isWrongLastSequence = (e: unknown): boolean =>
  e instanceof JetStreamApiError && e.code === JetStreamApiCodes.StreamWrongLastSequence;

const isOwnError = (e: unknown): e is Error =>
  e instanceof BlobNotFound ||
  e instanceof BlobMismatch ||
  e instanceof BlobTooLarge ||
  e instanceof BlobCorrupt ||
  e instanceof InvalidBlobKey ||
  e instanceof RangeError;
