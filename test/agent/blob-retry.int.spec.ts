/**
 * The agent's blob transfers outlast a server that is away: an upload or a
 * download started while nothing listens (a server restarting) waits for it
 * and completes, against a real server started late on the same port; an
 * abort ends the wait at once; an answer that is not the server's absence
 * (a missing blob) is no reason to wait.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { BlobClient, BlobMissingError } from "../../src/agent/blob-client.js";
import { TributaryServer } from "../../src/orchestrator/server/index.js";
import { freePort } from "../support/ports.js";

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const tempDir = async (prefix: string): Promise<string> => {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
};

/** A real server on `port`, started after `ms`. */
const serveLater = (port: number, dataDir: string, ms: number): Promise<TributaryServer> =>
  new Promise((resolve, reject) =>
    setTimeout(() => {
      TributaryServer.start({ dataDir, port, defaultProject: "retry", onNotice: () => {} }).then((s) => {
        cleanups.push(() => s.close());
        resolve(s);
      }, reject);
    }, ms),
  );

describe("blob transfers while the server is away", () => {
  it("an upload, a HEAD and a download started before the server listens complete once it does", async () => {
    const port = await freePort();
    const work = await tempDir("trib-blob-retry-");
    const blobs = new BlobClient(`http://127.0.0.1:${port}`, { project: "retry", env: "production" });
    cleanups.push(async () => blobs.close());
    await writeFile(join(work, "f"), "bytes that outlast a restart");
    const bytes = Buffer.from("bytes that outlast a restart");
    // Nothing listens yet: each of these meets a refused connection first.
    const stored = blobs.putBytes(bytes);
    const started = serveLater(port, await tempDir("trib-blob-retry-data-"), 700);
    const { sha256, size } = await stored;
    await started;
    expect(await blobs.has(sha256)).toBe(true);
    await blobs.download(sha256, join(work, "g"), size);
    expect(await readFile(join(work, "g"), "utf8")).toBe("bytes that outlast a restart");
  });

  it("an abort ends the wait for an absent server at once, with the abort's reason", async () => {
    const port = await freePort();
    const blobs = new BlobClient(`http://127.0.0.1:${port}`, { project: "retry", env: "production" });
    cleanups.push(async () => blobs.close());
    const ac = new AbortController();
    const pending = blobs.has("0".repeat(64), ac.signal).then(
      () => "answered",
      (e: unknown) => e,
    );
    setTimeout(() => ac.abort(new Error("execution cancelled")), 300);
    const outcome = await pending;
    expect((outcome as Error).message).toBe("execution cancelled");
  });

  it("a missing blob is said at once, not waited for", async () => {
    const port = await freePort();
    await serveLater(port, await tempDir("trib-blob-retry-data-"), 0);
    const blobs = new BlobClient(`http://127.0.0.1:${port}`, { project: "retry", env: "production" });
    cleanups.push(async () => blobs.close());
    const e = await blobs.getBytes("1".repeat(64), 5).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(BlobMissingError);
  });
});
