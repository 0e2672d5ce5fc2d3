/**
 * The contract every `BlobStore` adapter passes. Each adapter's integration
 * test calls {@link blobStoreContract} with a fixture on fresh storage; the
 * suite shares that storage between its tests (each test uses bytes of its
 * own and looks at what it added), so it also runs against one NATS bucket.
 */
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BlobCorrupt,
  BlobMismatch,
  BlobNotFound,
  BlobTooLarge,
  InvalidBlobKey,
  keyOf,
  type BlobInfo,
  type BlobStore,
} from "../../src/events/storage/blob-store.js";
import { Random } from "../support/prng.js";

/** What the storage holds. */
export interface Inventory {
  /** Stored blobs. */
  readonly blobs: number;
  /** Leftovers a finished put must not leave: temp files or objects, orphan chunks. */
  readonly strays: number;
}

/** Fresh storage for one run of the suite. */
export interface BlobStoreFixture {
  /** The store the tests use. */
  readonly store: BlobStore;
  /** Another store on the same storage (the suite closes it). */
  open(options?: { readonly maxBlobBytes?: number }): Promise<BlobStore>;
  inventory(): Promise<Inventory>;
  /**
   * Damages a stored blob behind the store's back: some of its bytes change,
   * its name and size do not (as bit rot or a tampered server would).
   */
  corrupt(key: string): Promise<void>;
  /** Releases the storage; called once, after the suite, with its stores closed. */
  cleanup(): Promise<void>;
}

export interface BlobContractOptions {
  /** Size of the streaming test's blob. Default 256 MiB. */
  readonly bigBlobBytes?: number;
  /** How much the process's RSS may grow while it streams. Default 64 MiB. */
  readonly maxRssGrowthBytes?: number;
}

const MiB = 1024 * 1024;
/** Bytes per chunk of the generated sources. */
const PIECE = 64 * 1024;

/** Defines the `BlobStore` contract suite for one adapter. */
export function blobStoreContract(name: string, setup: () => Promise<BlobStoreFixture>, options: BlobContractOptions = {}): void {
  describe(`BlobStore contract: ${name}`, () => {
    let fixture: BlobStoreFixture;
    let store: BlobStore;
    const extra: BlobStore[] = [];
    let seeds = 0;
    /** Bytes no other test of this run uses. */
    const fresh = (n: number): Buffer => Buffer.from(new Random(++seeds * 7919).bytes(n));
    const open = async (o?: { maxBlobBytes?: number }) => {
      const s = await fixture.open(o);
      extra.push(s);
      return s;
    };
    /** Runs `f` and returns how the inventory changed. */
    const delta = async (f: () => Promise<unknown>): Promise<Inventory> => {
      const before = await fixture.inventory();
      await f();
      const after = await fixture.inventory();
      return { blobs: after.blobs - before.blobs, strays: after.strays - before.strays };
    };

    beforeAll(async () => {
      fixture = await setup();
      store = fixture.store;
    });

    afterAll(async () => {
      for (const s of [store, ...extra]) await s?.close();
      await fixture?.cleanup();
    });

    it("empty, small, binary and multi-MiB blobs come back byte for byte", async () => {
      const allBytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      for (const bytes of [Buffer.alloc(0), Buffer.from("hello, blob"), allBytes, fresh(3 * MiB + 17)]) {
        const info = await store.put(Readable.from([bytes]));
        expect(info).toEqual(infoOf(bytes));
        expect(await store.stat(info.key)).toEqual(info);
        expect(Buffer.compare(await readAll(await store.get(info.key)), bytes)).toBe(0);
      }
    });

    it("a blob put twice gets the same key and is stored once", async () => {
      const bytes = fresh(300_000);
      let first: BlobInfo | undefined;
      let second: BlobInfo | undefined;
      const d = await delta(async () => {
        first = await store.put(Readable.from([bytes]));
        // The same bytes in other chunks.
        second = await store.put(Readable.from([bytes.subarray(0, 1000), bytes.subarray(1000)]));
      });
      expect(second).toEqual(first);
      expect(d).toEqual({ blobs: 1, strays: 0 });
    });

    it("a put with the expected hash and size stores the blob, and again stores nothing more", async () => {
      const bytes = fresh(200_000);
      const expected = { sha256: sha256(bytes), size: bytes.length };
      const d = await delta(async () => {
        expect(await store.put(chunked(bytes, 4096), expected)).toEqual(infoOf(bytes));
        expect(await store.put(chunked(bytes, 4096), expected)).toEqual(infoOf(bytes));
        expect(await store.put(Readable.from([bytes]), { sha256: expected.sha256 })).toEqual(infoOf(bytes));
      });
      expect(d).toEqual({ blobs: 1, strays: 0 });
      expect(Buffer.compare(await readAll(await store.get(keyOf(expected.sha256))), bytes)).toBe(0);
    });

    it("bytes that do not hash to the expected sha256 are refused with BlobMismatch and nothing is stored", async () => {
      const bytes = fresh(150_000);
      const claimed = sha256(fresh(10));
      const d = await delta(async () => {
        const failure = await store.put(Readable.from([bytes]), { sha256: claimed }).catch((e: unknown) => e);
        expect(failure).toBeInstanceOf(BlobMismatch);
        expect(failure).toMatchObject({ expected: { sha256: claimed }, actual: { sha256: sha256(bytes), size: bytes.length } });
      });
      expect(d).toEqual({ blobs: 0, strays: 0 });
      expect(await store.stat(keyOf(claimed))).toBeUndefined();
      expect(await store.stat(keyOf(sha256(bytes)))).toBeUndefined();
    });

    it("bytes of another size than expected are refused with BlobMismatch and nothing is stored", async () => {
      const bytes = fresh(150_000);
      const d = await delta(async () => {
        await expect(store.put(Readable.from([bytes]), { sha256: sha256(bytes), size: bytes.length + 1 })).rejects.toBeInstanceOf(
          BlobMismatch,
        );
        await expect(store.put(Readable.from([bytes]), { sha256: sha256(bytes), size: 0 })).rejects.toBeInstanceOf(BlobMismatch);
      });
      expect(d).toEqual({ blobs: 0, strays: 0 });
      expect(await store.stat(keyOf(sha256(bytes)))).toBeUndefined();
    });

    it("wrong bytes claiming the key of a stored blob are refused and leave that blob intact", async () => {
      const good = fresh(400_000);
      const info = await store.put(Readable.from([good]));
      const d = await delta(async () => {
        await expect(store.put(Readable.from([fresh(400_000)]), { sha256: info.sha256 })).rejects.toBeInstanceOf(BlobMismatch);
        await expect(store.put(Readable.from([good]), { sha256: info.sha256, size: 5 })).rejects.toBeInstanceOf(BlobMismatch);
      });
      expect(d).toEqual({ blobs: 0, strays: 0 });
      expect(await store.stat(info.key)).toEqual(info);
      expect(Buffer.compare(await readAll(await store.get(info.key)), good)).toBe(0);
    });

    it("an unknown key: get fails with BlobNotFound, stat gives undefined", async () => {
      const key = keyOf(sha256(fresh(32)));
      const failure = await store.get(key).catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(BlobNotFound);
      expect(failure).toMatchObject({ key });
      expect(await store.stat(key)).toBeUndefined();
    });

    it("malformed keys are refused with InvalidBlobKey", async () => {
      const hex = sha256(Buffer.from("x"));
      const bad = [
        "../../etc/passwd",
        "sha256:xyz",
        "",
        hex,
        `sha256:${hex.toUpperCase()}`,
        `sha256:${hex}0`,
        `sha256:${hex.slice(0, 62)}/x`,
        `sha256:../${hex.slice(3)}`,
        `sha256:${hex}\n`,
        `md5:${hex}`,
      ];
      for (const key of bad) {
        await expect(store.get(key), key).rejects.toBeInstanceOf(InvalidBlobKey);
        await expect(store.stat(key), key).rejects.toBeInstanceOf(InvalidBlobKey);
      }
      await expect(store.get("../../etc/passwd")).rejects.toThrow(/not a blob key: "..\/..\/etc\/passwd"/);
      const d = await delta(async () => {
        await expect(store.put(Readable.from([Buffer.from("x")]), { sha256: "../../etc/passwd" })).rejects.toBeInstanceOf(
          InvalidBlobKey,
        );
        await expect(store.put(Readable.from([Buffer.from("x")]), { sha256: hex.toUpperCase() })).rejects.toBeInstanceOf(
          InvalidBlobKey,
        );
      });
      expect(d).toEqual({ blobs: 0, strays: 0 });
    });

    it("a blob over maxBlobBytes is refused with BlobTooLarge as soon as the limit is passed, and nothing is stored", async () => {
      const limit = 2 * MiB;
      const small = await open({ maxBlobBytes: limit });
      const d = await delta(async () => {
        const huge = lazySource(++seeds, 1024 * MiB);
        const failure = await small.put(huge.stream).catch((e: unknown) => e);
        expect(failure).toBeInstanceOf(BlobTooLarge);
        expect(failure).toMatchObject({ limit });
        // Reading stopped near the limit, not at the end of the gigabyte.
        expect(huge.pulled()).toBeLessThan(limit + 4 * MiB);

        const claimed = lazySource(++seeds, 1024 * MiB);
        await expect(small.put(claimed.stream, { sha256: sha256(Buffer.from("?")), size: limit + 1 })).rejects.toBeInstanceOf(
          BlobTooLarge,
        );
        expect(claimed.pulled()).toBe(0);
      });
      expect(d).toEqual({ blobs: 0, strays: 0 });

      const exactly = fresh(limit);
      expect(await small.put(chunked(exactly, 65_536))).toEqual(infoOf(exactly));
    });

    it("a source that fails midway fails the put with its own error and stores nothing", async () => {
      const bytes = fresh(3 * MiB);
      const boom = new Error("the client hung up");
      const d = await delta(async () => {
        const source = Readable.from(
          (async function* () {
            yield bytes.subarray(0, 2 * MiB);
            await sleep(10);
            throw boom;
          })(),
          { objectMode: false },
        );
        await expect(store.put(source)).rejects.toBe(boom);
        const again = Readable.from(
          (async function* () {
            yield bytes.subarray(0, MiB);
            throw boom;
          })(),
          { objectMode: false },
        );
        await expect(store.put(again, { sha256: sha256(bytes) })).rejects.toBe(boom);
      });
      expect(d).toEqual({ blobs: 0, strays: 0 });
      expect(await store.stat(keyOf(sha256(bytes)))).toBeUndefined();
    });

    it("concurrent puts of the same bytes all get its key and store it once", async () => {
      const bytes = fresh(2 * MiB + 5);
      const second = await open();
      const expected = { sha256: sha256(bytes), size: bytes.length };
      let infos: BlobInfo[] = [];
      const d = await delta(async () => {
        infos = await Promise.all(
          Array.from({ length: 8 }, (_, i) =>
            (i % 2 === 0 ? store : second).put(chunked(bytes, 100_000 + i), i % 4 < 2 ? expected : undefined),
          ),
        );
      });
      for (const info of infos) expect(info).toEqual(infoOf(bytes));
      expect(d).toEqual({ blobs: 1, strays: 0 });
      expect(Buffer.compare(await readAll(await store.get(infos[0]!.key)), bytes)).toBe(0);
    });

    it("a blob whose stored bytes were damaged fails with BlobCorrupt, naming the key, instead of delivering its last bytes", async () => {
      const bytes = fresh(3 * MiB);
      const info = await store.put(Readable.from([bytes]));
      await fixture.corrupt(info.key);
      const stream = await store.get(info.key);
      let received = 0;
      const failure = await (async () => {
        for await (const chunk of stream) received += (chunk as Buffer).length;
      })().catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(BlobCorrupt);
      expect(failure).toMatchObject({ key: info.key });
      expect((failure as Error).message).toContain(info.key);
      expect(received).toBeLessThan(bytes.length);
    });

    it("a reader that stops early releases the blob", async () => {
      const bytes = fresh(6 * MiB);
      const info = await store.put(Readable.from([bytes]));
      for (let i = 0; i < 3; i++) {
        const stream = await store.get(info.key);
        for await (const _ of stream) break; // destroys the stream
      }
      expect(Buffer.compare(await readAll(await store.get(info.key)), bytes)).toBe(0);
    });

    it("close is idempotent and later calls fail", async () => {
      const s = await open();
      await s.close();
      await s.close();
      await expect(s.stat(keyOf(sha256(Buffer.from("x"))))).rejects.toThrow(/closed/);
      await expect(s.put(Readable.from([Buffer.from("x")]))).rejects.toThrow(/closed/);
    });

    const big = options.bigBlobBytes ?? 256 * MiB;
    const maxGrowth = options.maxRssGrowthBytes ?? 64 * MiB;
    it(
      `a ${big / MiB} MiB blob streams in and out, through a reader that pauses, while RSS grows by less than ${maxGrowth / MiB} MiB`,
      { timeout: 60_000 },
      async () => {
        const seed = ++seeds;
        const expected = lazyDigest(seed, big);
        const rss = sampleRss();
        try {
          const info = await store.put(lazySource(seed, big, 16).stream, expected);
          expect(info).toEqual({ key: keyOf(expected.sha256), size: big, sha256: expected.sha256 });

          const stream = await store.get(info.key);
          const hash = createHash("sha256");
          let size = 0;
          let paused = false;
          for await (const chunk of stream) {
            hash.update(chunk as Buffer);
            size += (chunk as Buffer).length;
            if (!paused && size > big / 2) {
              // A slow reader: the store must not read ahead without bound meanwhile.
              paused = true;
              await sleep(500);
            }
          }
          expect({ sha256: hash.digest("hex"), size }).toEqual(expected);
        } finally {
          rss.stop();
        }
        expect(rss.peak() - rss.start, `RSS from ${mb(rss.start)} to a peak of ${mb(rss.peak())}`).toBeLessThan(maxGrowth);
      },
    );
  });
}

// ---------------------------------------------------------------------------

const sha256 = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex");

const infoOf = (bytes: Uint8Array): BlobInfo => ({ key: keyOf(sha256(bytes)), size: bytes.length, sha256: sha256(bytes) });

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const mb = (n: number): string => `${(n / 1024 / 1024).toFixed(1)} MiB`;

/** The bytes in chunks of `size`, as a byte stream. */
const chunked = (bytes: Buffer, size: number): Readable =>
  Readable.from(
    (function* () {
      for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
    })(),
    { objectMode: false },
  );

const readAll = async (stream: Readable): Promise<Buffer> => {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
};

/**
 * The MiB blocks of {@link lazySource}: one random MiB, each copy stamped
 * with its index so that no two MiB are equal. `fill` writes block `i`
 * (`n` bytes) into `into`.
 */
const blocks = (seed: number) => {
  const block = Buffer.from(new Random(seed).bytes(MiB));
  return (into: Buffer, i: number, n: number): Buffer => {
    block.copy(into, 0, 0, n);
    if (n >= 8) into.writeDoubleLE(i, 0);
    return into.subarray(0, n);
  };
};

/**
 * `size` seeded pseudo-random bytes, made as they are read (never held
 * whole). `pulled()` tells how many bytes the reader took.
 *
 * With `ring`, the chunks are written into that many reused buffers rather
 * than fresh ones, so that the source's own garbage does not count in a
 * memory measurement. A store that kept a chunk past `ring` more reads would
 * see it overwritten, and fail the hash check.
 */
export const lazySource = (seed: number, size: number, ring?: number): { stream: Readable; pulled: () => number } => {
  const fill = blocks(seed);
  const buffers = Array.from({ length: ring ?? 0 }, () => Buffer.allocUnsafe(MiB));
  let pulled = 0;
  const stream = Readable.from(
    (function* () {
      for (let at = 0, i = 0; at < size; at += MiB, i++) {
        const n = Math.min(MiB, size - at);
        const block = fill(buffers[i % buffers.length] ?? Buffer.allocUnsafe(n), i, n);
        // In the 64 KiB pieces an HTTP request body comes in.
        for (let p = 0; p < n; p += PIECE) {
          pulled += Math.min(PIECE, n - p);
          yield block.subarray(p, p + PIECE);
        }
      }
    })(),
    { objectMode: false, highWaterMark: MiB },
  );
  return { stream, pulled: () => pulled };
};

/** The digest of `lazySource(seed, size)`, computed in one reused buffer (no garbage to inflate RSS). */
const lazyDigest = (seed: number, size: number): { sha256: string; size: number } => {
  const fill = blocks(seed);
  const hash = createHash("sha256");
  const buffer = Buffer.allocUnsafe(MiB);
  for (let at = 0, i = 0; at < size; at += MiB, i++) hash.update(fill(buffer, i, Math.min(MiB, size - at)));
  return { sha256: hash.digest("hex"), size };
};

/**
 * V8's full collection. Buffers live outside V8's heap, and V8 lets about
 * 64 MB of dead ones pile up before it collects them: the NATS client copies
 * each chunk once or twice on its way out, so plain RSS peaks near that
 * threshold whatever the store retains. Collecting before each sample
 * measures what the store actually holds.
 */
const collectGarbage: () => void = (() => {
  setFlagsFromString("--expose-gc");
  return runInNewContext("gc") as () => void;
})();

/** Samples the process's RSS every 25 ms, after a full collection. */
const sampleRss = () => {
  collectGarbage();
  const start = process.memoryUsage().rss;
  let peak = start;
  const timer = setInterval(() => {
    collectGarbage();
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 25);
  return {
    start,
    peak: () => Math.max(peak, process.memoryUsage().rss),
    stop: () => clearInterval(timer),
  };
};
