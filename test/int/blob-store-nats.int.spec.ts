import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { JsHeaders, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { Base64UrlPaddedCodec, Objm, type ObjectStore } from "@nats-io/obj";
import { connect, headers, type NatsConnection } from "@nats-io/transport-node";
import { describe, expect, inject, it } from "vitest";
import { hexOfKey } from "../../src/events/storage/blob-digest.js";
import { BlobCorrupt, keyOf } from "../../src/events/storage/blob-store.js";
import { NatsBlobStore } from "../../src/events/storage/blob-store-nats.js";
import { startNatsServer } from "../support/nats-server.js";
import { blobStoreContract, type Inventory } from "../contract/blob-store.contract.js";

const url = inject("natsUrl");

/** A raw view of one bucket, to look behind the store's back. */
interface Raw {
  readonly nc: NatsConnection;
  readonly jsm: JetStreamManager;
  readonly os: ObjectStore;
  readonly bucket: string;
}

const rawView = async (bucket: string): Promise<Raw> => {
  const nc = await connect({ servers: url });
  const jsm = await jetstreamManager(nc);
  return { nc, jsm, os: await new Objm(jsm.jetstream()).open(bucket), bucket };
};

const metaSubject = (raw: Raw, name: string) => `$O.${raw.bucket}.M.${Base64UrlPaddedCodec.encode(name)}`;

/**
 * Blobs are the objects named by a hash; strays are temporary objects and
 * any message of the bucket's stream that no object accounts for (orphan
 * chunks, delete markers).
 */
const inventory = async (raw: Raw): Promise<Inventory> => {
  const objects = await raw.os.list();
  const accounted = objects.reduce((n, o) => n + o.chunks + 1, 0);
  const messages = (await raw.jsm.streams.info(`OBJ_${raw.bucket}`)).state.messages;
  const blobs = objects.filter((o) => /^[0-9a-f]{64}$/.test(o.name)).length;
  return { blobs, strays: objects.length - blobs + (messages - accounted) };
};

/**
 * What a damaged or tampered server would hold: the metadata still names the
 * blob and carries its digest and size, but points at other bytes.
 */
const corrupt = async (raw: Raw, key: string): Promise<void> => {
  const hex = hexOfKey(key);
  const bytes = await raw.os.getBlob(hex);
  if (!bytes) throw new Error(`no object ${hex}`);
  const damaged = Buffer.from(bytes);
  const at = damaged.length >> 1;
  damaged[at] = damaged[at]! ^ 0xff;
  const decoy = await raw.os.putBlob({ name: `decoy-${randomBytes(4).toString("hex")}`, options: { max_chunk_size: 1024 * 1024 } }, damaged);
  const m = await raw.jsm.streams.getMessage(`OBJ_${raw.bucket}`, { last_by_subj: metaSubject(raw, hex) });
  const meta = m!.json<Record<string, unknown>>();
  const oldNuid = meta.nuid as string;
  const h = headers();
  h.set(JsHeaders.RollupHdr, JsHeaders.RollupValueSubject);
  await raw.jsm.jetstream().publish(metaSubject(raw, hex), JSON.stringify({ ...meta, nuid: decoy.nuid, chunks: decoy.chunks }), { headers: h });
  await raw.jsm.streams.purge(`OBJ_${raw.bucket}`, { filter: metaSubject(raw, decoy.name) });
  await raw.jsm.streams.purge(`OBJ_${raw.bucket}`, { filter: `$O.${raw.bucket}.C.${oldNuid}` });
};

blobStoreContract(
  "NATS",
  async () => {
    const bucket = `test-blobs-${randomBytes(4).toString("hex")}`;
    const store = await NatsBlobStore.connect({ servers: url, bucket });
    const raw = await rawView(bucket);
    return {
      store,
      open: (options) => NatsBlobStore.connect({ servers: url, bucket, ...options }),
      inventory: () => inventory(raw),
      corrupt: (key) => corrupt(raw, key),
      cleanup: async () => {
        await raw.os.destroy();
        await raw.nc.close();
      },
    };
  },
);

describe("NatsBlobStore against the object store", () => {
  const withStore = async (f: (store: NatsBlobStore, raw: Raw) => Promise<void>) => {
    const bucket = `test-blobs-${randomBytes(4).toString("hex")}`;
    const store = await NatsBlobStore.connect({ servers: url, bucket });
    const raw = await rawView(bucket);
    try {
      await f(store, raw);
    } finally {
      await store.close();
      await raw.os.destroy();
      await raw.nc.close();
    }
  };
  const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

  it("an object whose digest does not match its name is never served: get and stat fail with BlobCorrupt; a put of the right bytes repairs it", () =>
    withStore(async (store, raw) => {
      const right = Buffer.from("the bytes the name promises");
      const wrong = Buffer.from("other bytes, put under that name by someone else");
      const key = keyOf(sha256(right));
      await raw.os.putBlob({ name: sha256(right) }, wrong);

      await expect(store.get(key)).rejects.toBeInstanceOf(BlobCorrupt);
      await expect(store.stat(key)).rejects.toThrow(/blob sha256:[0-9a-f]{64} is corrupt: the object store's digest of it is SHA-256=/);

      expect(await store.put(Readable.from([right]), { sha256: sha256(right) })).toEqual({ key, size: right.length, sha256: sha256(right) });
      const back: Buffer[] = [];
      for await (const c of await store.get(key)) back.push(c as Buffer);
      expect(Buffer.concat(back).equals(right)).toBe(true);
      expect(await inventory(raw)).toEqual({ blobs: 1, strays: 0 });
    }));

  it("a blob is the object named by its hex digest, readable by any object store client", () =>
    withStore(async (store, raw) => {
      const bytes = Buffer.from(randomBytes(3 * 1024 * 1024 + 1));
      const info = await store.put(Readable.from([bytes]));
      const obj = await raw.os.info(info.sha256);
      expect(obj).toMatchObject({ name: info.sha256, size: bytes.length, deleted: false });
      expect(Buffer.from((await raw.os.getBlob(info.sha256))!).equals(bytes)).toBe(true);
    }));

  it("a read that stops early, or never starts, leaves no consumer behind", () =>
    withStore(async (store, raw) => {
      const info = await store.put(Readable.from([randomBytes(5 * 1024 * 1024)]));
      const early = await store.get(info.key);
      for await (const _ of early) break;
      (await store.get(info.key)).destroy();
      const consumers = async () => (await raw.jsm.streams.info(`OBJ_${raw.bucket}`)).state.consumer_count;
      for (let i = 0; i < 100 && (await consumers()) > 0; i++) await new Promise((r) => setTimeout(r, 20));
      expect(await consumers()).toBe(0);
    }));

  it("connecting where no server listens fails with a clear error", async () => {
    const server = await startNatsServer();
    await server.stop();
    await expect(NatsBlobStore.connect({ servers: server.url })).rejects.toThrow(/cannot connect to NATS at nats:\/\/127\.0\.0\.1:\d+/);
  });

  it("an invalid bucket name is refused before connecting", async () => {
    await expect(NatsBlobStore.connect({ servers: url, bucket: "a.b" })).rejects.toThrow(/invalid bucket name "a.b"/);
  });
});
