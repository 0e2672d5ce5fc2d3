/**
 * `npx tsx bench/blobs.ts [--mib N] [--rounds N]`: put and get throughput of
 * the blob stores on one blob of N MiB (default 100), best of `--rounds`
 * (default 3). The FsBlobStore writes to a temp directory; the NatsBlobStore
 * talks to a nats-server started here (client and server share the
 * machine). Not a test: nothing here asserts a speed.
 */
import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { parseArgs } from "node:util";
import { FsBlobStore } from "../src/events/storage/blob-store-fs.js";
import { NatsBlobStore } from "../src/events/storage/blob-store-nats.js";
import type { BlobStore } from "../src/events/storage/blob-store.js";
import { startNatsServer } from "../test/support/nats-server.js";
import { Random } from "../test/support/prng.js";

const { values } = parseArgs({ options: { mib: { type: "string", default: "100" }, rounds: { type: "string", default: "3" } } });
const MiB = 1024 * 1024;
const size = Number(values.mib) * MiB;
const rounds = Number(values.rounds);

/** A new blob for each round (so a put is never a dedup), in 64 KiB pieces like an HTTP body. */
const blob = (seed: number) => {
  const block = Buffer.from(new Random(seed).bytes(MiB));
  const make = (at: number): Buffer => {
    const piece = Buffer.allocUnsafe(Math.min(64 * 1024, size - at));
    block.copy(piece, 0, at % MiB, (at % MiB) + piece.length);
    piece.writeDoubleLE(at, 0);
    return piece;
  };
  const source = () =>
    Readable.from(
      (function* () {
        for (let at = 0; at < size; at += 64 * 1024) yield make(at);
      })(),
      { objectMode: false },
    );
  const hash = createHash("sha256");
  for (let at = 0; at < size; at += 64 * 1024) hash.update(make(at));
  return { source, expected: { sha256: hash.digest("hex"), size } };
};

const seconds = async (f: () => Promise<unknown>): Promise<number> => {
  const t = performance.now();
  await f();
  return (performance.now() - t) / 1000;
};

const drain = async (stream: Readable): Promise<number> => {
  let n = 0;
  for await (const c of stream) n += (c as Buffer).length;
  return n;
};

const rate = (s: number) => `${(size / MiB / s).toFixed(0).padStart(5)} MiB/s (${(size / 1e6 / s).toFixed(0)} MB/s)`;

let seed = 1;
const measure = async (name: string, store: BlobStore): Promise<void> => {
  const best = { put: Infinity, putUnnamed: Infinity, putStored: Infinity, get: Infinity };
  for (let r = 0; r < rounds; r++) {
    const b = blob(seed++);
    best.put = Math.min(best.put, await seconds(() => store.put(b.source(), b.expected)));
    best.putStored = Math.min(best.putStored, await seconds(() => store.put(b.source(), b.expected)));
    best.get = Math.min(
      best.get,
      await seconds(async () => {
        if ((await drain(await store.get(`sha256:${b.expected.sha256}`))) !== size) throw new Error("short read");
      }),
    );
    const u = blob(seed++);
    best.putUnnamed = Math.min(best.putUnnamed, await seconds(() => store.put(u.source())));
  }
  console.log(`${name.padEnd(5)} put, with expected   ${rate(best.put)}`);
  console.log(`${name.padEnd(5)} put, no expected     ${rate(best.putUnnamed)}`);
  console.log(`${name.padEnd(5)} put, already stored  ${rate(best.putStored)}`);
  console.log(`${name.padEnd(5)} get                  ${rate(best.get)}`);
};

console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? "?"}, node ${process.version}; blob ${size / MiB} MiB, best of ${rounds}`);
const dir = await mkdtemp(join(tmpdir(), "bench-blobs-"));
try {
  await measure("fs", new FsBlobStore({ dir }));
} finally {
  await rm(dir, { recursive: true, force: true });
}
const server = await startNatsServer();
const nats = await NatsBlobStore.connect({ servers: server.url });
try {
  await measure("nats", nats);
} finally {
  await nats.close();
  await server.stop();
}
