import { createHash } from "node:crypto";
import { mkdtemp, open, readdir, rm, stat, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { FsBlobStore } from "../../src/events/storage/blob-store-fs.js";
import { hexOfKey } from "../../src/events/storage/blob-digest.js";
import { blobStoreContract, type Inventory } from "../contract/blob-store.contract.js";

/** Blob files (under the 2-hex-digit shards) and leftovers (anything in tmp/, or elsewhere). */
const inventory = async (dir: string): Promise<Inventory> => {
  let blobs = 0;
  let strays = 0;
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const inside = entry.isDirectory() ? await readdir(join(dir, entry.name)) : [];
    if (entry.isDirectory() && /^[0-9a-f]{2}$/.test(entry.name)) blobs += inside.length;
    else strays += entry.isDirectory() ? inside.length : 1;
  }
  return { blobs, strays };
};

const fileOf = (dir: string, key: string): string => {
  const hex = hexOfKey(key);
  return join(dir, hex.slice(0, 2), hex.slice(2));
};

blobStoreContract("fs", async () => {
  const dir = await mkdtemp(join(tmpdir(), "trib-blobs-"));
  return {
    store: new FsBlobStore({ dir }),
    open: async (options) => new FsBlobStore({ dir, ...options }),
    inventory: () => inventory(dir),
    corrupt: async (key) => {
      const fh = await open(fileOf(dir, key), "r+");
      try {
        const size = (await fh.stat()).size;
        const at = Math.floor(size / 2);
        const byte = Buffer.alloc(1);
        await fh.read(byte, 0, 1, at);
        byte[0] = byte[0]! ^ 0xff;
        await fh.write(byte, 0, 1, at);
      } finally {
        await fh.close();
      }
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

describe("FsBlobStore on disk", () => {
  const withDir = async (f: (dir: string) => Promise<void>) => {
    const dir = await mkdtemp(join(tmpdir(), "trib-blobs-"));
    try {
      await f(dir);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };

  it("a blob is the file <dir>/<first 2 hex digits>/<other 62>, and tmp/ is empty after the put", () =>
    withDir(async (dir) => {
      const store = new FsBlobStore({ dir });
      const bytes = Buffer.from("a file of an asset");
      const hex = createHash("sha256").update(bytes).digest("hex");
      const info = await store.put(Readable.from([bytes]));
      expect((await stat(join(dir, hex.slice(0, 2), hex.slice(2)))).size).toBe(bytes.length);
      expect(info.key).toBe(`sha256:${hex}`);
      expect(await readdir(join(dir, "tmp"))).toEqual([]);
    }));

  it("a damaged file of another size is replaced by the next put of the blob", () =>
    withDir(async (dir) => {
      const store = new FsBlobStore({ dir });
      const bytes = Buffer.alloc(100_000, 7);
      const info = await store.put(Readable.from([bytes]));
      await writeFile(fileOf(dir, info.key), bytes.subarray(0, 10));
      expect((await store.stat(info.key))?.size).toBe(10);
      await store.put(Readable.from([bytes]), { sha256: info.sha256 });
      expect(await store.stat(info.key)).toEqual(info);
      const back: Buffer[] = [];
      for await (const c of await store.get(info.key)) back.push(c as Buffer);
      expect(Buffer.concat(back).equals(bytes)).toBe(true);
    }));

  it("a damaged file of the same size fails with BlobCorrupt naming the file to remove; once removed, a put restores the blob", () =>
    withDir(async (dir) => {
      const store = new FsBlobStore({ dir });
      const bytes = Buffer.alloc(100_000, 7);
      const info = await store.put(Readable.from([bytes]));
      const file = fileOf(dir, info.key);
      await writeFile(file, Buffer.alloc(100_000, 8));
      const read = async () => {
        const back: Buffer[] = [];
        for await (const c of await store.get(info.key)) back.push(c as Buffer);
        return Buffer.concat(back);
      };
      await expect(read()).rejects.toThrow(`blob ${info.key} is corrupt: its bytes hash to sha256:`);
      await expect(read()).rejects.toThrow(`remove ${file} and put the blob again`);
      await rm(file);
      await store.put(Readable.from([bytes]), { sha256: info.sha256, size: bytes.length });
      expect((await read()).equals(bytes)).toBe(true);
    }));

  it("temp files a crashed put left long ago are removed on first use; recent ones are kept", () =>
    withDir(async (dir) => {
      await new FsBlobStore({ dir }).put(Readable.from([Buffer.from("first")]));
      const old = join(dir, "tmp", "crashed-long-ago");
      const recent = join(dir, "tmp", "another-store-writing");
      await writeFile(old, "partial");
      await writeFile(recent, "partial");
      const hourAndMore = (Date.now() - 2 * 60 * 60 * 1000) / 1000;
      await utimes(old, hourAndMore, hourAndMore);
      await new FsBlobStore({ dir }).put(Readable.from([Buffer.from("second")]));
      expect(await readdir(join(dir, "tmp"))).toEqual(["another-store-writing"]);
    }));
});
