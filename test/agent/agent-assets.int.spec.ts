/**
 * Assets through the agent runtime: real worker threads persisting and
 * restoring over the scripted server's real HTTP blob API.
 */
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { createWriteStream, existsSync } from "node:fs";
import { lstat, mkdtemp, readdir, readFile, rm, stat, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAgent, type Agent, type AgentLogEntry } from "../../src/index.js";
import { ASSET_TAG, type AssetRef } from "../../src/protocol/messages.js";
import { ScriptedServer } from "./scripted-server.js";

const fixtures = fileURLToPath(new URL("./fixtures/", import.meta.url));
const MiB = 1024 * 1024;
const sha = (b: string | Uint8Array): string => createHash("sha256").update(b).digest("hex");

let server: ScriptedServer;
let agent: Agent;
let root: string;
let outside: string;
const logs: AgentLogEntry[] = [];
let n = 0;

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), "tributary-workdirs-"));
  outside = await mkdtemp(path.join(tmpdir(), "tributary-outside-"));
  server = await ScriptedServer.start();
  agent = await startAgent({
    server: server.url,
    env: "staging",
    workers: 2,
    modules: ["assets.ts"],
    cwd: fixtures,
    workdirRoot: root,
    maxAssetBytes: 256 * MiB,
    onLog: (e) => logs.push(e),
  });
});

afterAll(async () => {
  await agent?.stop({ drainMs: 100 });
  await server?.close();
  await rm(root, { recursive: true, force: true });
  await rm(outside, { recursive: true, force: true });
});

/** Runs a target of the assets repository; its value (or throws with the failure). */
const run = async (target: string, args: readonly unknown[], timeoutMs = 10_000): Promise<any> => {
  const id = `${target}-${++n}`;
  server.execute(id, target, args as never, "assets");
  const r = await server.result(id, timeoutMs);
  if (r.type !== "succeeded") throw new Error(`${target} failed: ${r.error.type}: ${r.error.message}`);
  return r.value;
};

/** The tagged reference inside a result. */
const refOf = (v: unknown): AssetRef => (v as { [ASSET_TAG]: AssetRef })[ASSET_TAG];

const binary = new Uint8Array(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256));

describe("working directories", () => {
  it("gives each execution its own empty directory under the root, not the process's cwd, and removes it before reporting the result", async () => {
    const a = await run("workdir_info", []);
    const b = await run("workdir_info", []);
    expect(a.workdir).not.toBe(b.workdir);
    expect(path.dirname(a.workdir)).toBe(await import("node:fs/promises").then((fs) => fs.realpath(root)));
    expect(path.basename(a.workdir)).toMatch(/^workdir_info-\d+$/);
    expect(a.files).toEqual(["left.txt"]);
    expect(a.cwd).toBe(process.cwd());
    expect(existsSync(a.workdir)).toBe(false);
    expect(existsSync(b.workdir)).toBe(false);
  });

  it("removes the directory of a failed execution too, after stopping the persist it left running", async () => {
    const id = `persist_and_throw-${++n}`;
    server.execute(id, "persist_and_throw", [], "assets");
    expect(await server.result(id)).toMatchObject({ type: "failed", error: { message: "gave up" } });
    expect(existsSync(path.join(root, id))).toBe(false);
  });
});

describe("persist", () => {
  it("persists a file and a nested directory (an empty file, binary content) with paths relative to the working directory", async () => {
    const files = [
      { path: "report.txt", content: "hello\n" },
      { path: "out/a.txt", content: "A" },
      { path: "out/empty.txt", content: "" },
      { path: "out/deep/er/bytes.bin", content: binary },
      { path: "not-persisted.txt", content: "no" },
    ];
    const v = await run("write_and_persist", [{ files }, ["report.txt", "out"], { name: "bundle", metadata: { rows: 3, when: new Date(5) } }]);
    expect(v.isAsset).toBe(true);
    expect(v.cwd).toBe(process.cwd());
    const ref = refOf(v.asset);
    expect(ref).toEqual({
      assetId: expect.stringMatching(/^asset-/),
      env: "staging",
      name: "bundle",
      metadata: { rows: 3, when: new Date(5) },
      entries: [
        { path: "report.txt", size: 6, sha256: sha("hello\n") },
        { path: "out/a.txt", size: 1, sha256: sha("A") },
        { path: "out/deep/er/bytes.bin", size: 4096, sha256: sha(binary) },
        { path: "out/empty.txt", size: 0, sha256: sha("") },
      ],
    });
    expect(v.size).toBe(6 + 1 + 4096);
    // The blobs are on the server, byte for byte.
    expect(await readFile(server.blobFile(sha(binary)))).toEqual(Buffer.from(binary));
    expect((await stat(server.blobFile(sha("")))).size).toBe(0);
    const persisted = await server.waitFor("persist", (m) => m.entries.some((e) => e.path === "out/a.txt"));
    expect(persisted).toMatchObject({ name: "bundle", metadata: { rows: 3 } });

    // Restored in another execution, into `to`: the same bytes, the asset decoded as an Asset.
    const r = await run("restore_and_read", [v.asset, "inputs/x"]);
    expect(r).toMatchObject({ isAsset: true, assetId: ref.assetId, name: "bundle", size: 4103 });
    expect(r.entries).toEqual(ref.entries.map((e) => ({ path: e.path, size: e.size })));
    expect(r.paths).toEqual(ref.entries.map((e) => path.join(r.workdir, "inputs/x", e.path)));
    expect(r.contents).toEqual([new TextEncoder().encode("hello\n"), new TextEncoder().encode("A"), binary, new Uint8Array()]);
    expect(r.files).toEqual(["inputs/x/out/a.txt", "inputs/x/out/deep/er/bytes.bin", "inputs/x/out/empty.txt", "inputs/x/report.txt"]);
    expect(await server.waitFor("restore", (m) => m.assetId === ref.assetId)).toMatchObject({ to: "inputs/x" });
    expect(existsSync(r.workdir)).toBe(false);
  });

  it("restores into the working directory itself without `to`, over an existing file", async () => {
    const v = await run("write_and_persist", [{ files: [{ path: "data/v.txt", content: "new" }] }, "data"]);
    const r = await run("try_restore", [v.asset, { files: [{ path: "data/v.txt", content: "old and longer" }, { path: "keep.txt", content: "k" }] }]);
    expect(r).toMatchObject({ outcome: "restored", files: ["data/v.txt", "keep.txt"] });
    const again = await run("restore_and_read", [v.asset]);
    expect(again.contents).toEqual([new TextEncoder().encode("new")]);
  });

  it("accepts absolute paths inside the working directory, and the working directory itself", async () => {
    const v = await run("write_and_persist", [{ files: [{ path: "w/one.txt", content: "1" }, { path: "two.txt", content: "2" }] }, "."]);
    expect(refOf(v.asset).entries.map((e) => e.path)).toEqual(["two.txt", "w/one.txt"]);
  });

  it("uploads a blob once: equal files in one asset, and a second persist of equal bytes, only HEAD it", async () => {
    const content = `dedup ${Date.now()}`;
    const key = sha(content);
    const first = await run("write_and_persist", [{ files: [{ path: "a.txt", content }, { path: "b/a-copy.txt", content }] }, ["a.txt", "b"]]);
    expect(refOf(first.asset).entries.map((e) => e.sha256)).toEqual([key, key]);
    expect(server.blobCount("PUT", key)).toBe(1);
    const heads = server.blobCount("HEAD", key);
    const second = await run("write_and_persist", [{ files: [{ path: "elsewhere/c.txt", content }] }, "elsewhere"]);
    expect(refOf(second.asset).entries).toEqual([{ path: "elsewhere/c.txt", size: content.length, sha256: key }]);
    expect(server.blobCount("PUT", key)).toBe(1);
    expect(server.blobCount("HEAD", key)).toBe(heads + 1);
  });

  it("follows a link to a file inside the working directory, stored under the link's path", async () => {
    const v = await run("write_and_persist", [{ files: [{ path: "real/x.txt", content: "x" }], links: [{ path: "out/link.txt", target: "../real/x.txt" }] }, "out"]);
    expect(refOf(v.asset).entries).toEqual([{ path: "out/link.txt", size: 1, sha256: sha("x") }]);
  });

  it.each([
    ["..", "../x.txt", /persist\(\): the path "\.\.\/x\.txt" contains "\.\."/],
    ["a .. in the middle", "a/../a.txt", /contains "\.\."/],
    ["an absolute path outside", "/etc/hostname", /persist\(\): the path "\/etc\/hostname" is outside the working directory/],
    ["a missing file", "nope.txt", /persist\(\): nope\.txt does not exist \(relative paths are relative to the working directory/],
  ])("refuses %s before uploading anything", async (_what, p, message) => {
    const puts = server.blobCount("PUT");
    const heads = server.blobCount("HEAD");
    const v = await run("try_persist", [{ files: [{ path: "a.txt", content: `a ${p}` }] }, ["a.txt", p]]);
    expect(v).toMatchObject({ name: "AssetPathError", message: expect.stringMatching(message) });
    expect(server.blobCount("PUT")).toBe(puts);
    expect(server.blobCount("HEAD")).toBe(heads);
  });

  it("refuses links that point outside the working directory: a file, a directory on the way, one inside a persisted directory", async () => {
    await writeFile(path.join(outside, "secret.txt"), "secret");
    const file = await run("try_persist", [{ links: [{ path: "s.txt", target: path.join(outside, "secret.txt") }] }, "s.txt"]);
    expect(file).toMatchObject({ name: "AssetPathError", message: expect.stringMatching(/s\.txt is a symbolic link, or under one, that points outside the working directory/) });
    const dir = await run("try_persist", [{ links: [{ path: "d", target: outside }] }, "d/secret.txt"]);
    expect(dir).toMatchObject({ name: "AssetPathError", message: expect.stringContaining("d/secret.txt is a symbolic link, or under one, that points outside") });
    const inner = await run("try_persist", [{ files: [{ path: "out/ok.txt", content: "ok" }], links: [{ path: "out/sneaky", target: path.join(outside, "secret.txt") }] }, "out"]);
    expect(inner).toMatchObject({ name: "AssetPathError", message: expect.stringContaining("out/sneaky is a symbolic link") });
    expect(server.blobCount("PUT", sha("secret"))).toBe(0);
  });

  it("refuses more than maxAssetBytes in one asset, before reading it", async () => {
    const before = server.blobRequests.length;
    const v = await run("try_persist", [{ sparse: { path: "huge.bin", size: 300 * MiB } }, "huge.bin"]);
    expect(v).toMatchObject({ name: "AssetTooLargeError", message: expect.stringContaining(`over the agent's limit of ${256 * MiB} bytes per asset (256.0 MiB; agent option maxAssetBytes)`) });
    expect(server.blobRequests.length).toBe(before);
  });

  it("reports the server's size limit (413) as AssetTooLargeError", async () => {
    server.maxBlobBytes = 10;
    try {
      const v = await run("try_persist", [{ files: [{ path: "eleven.txt", content: `${Date.now()}`.padEnd(40, "x") }] }, "eleven.txt"]);
      expect(v).toMatchObject({ name: "AssetTooLargeError", message: expect.stringMatching(/eleven\.txt: the server refuses it: .*413: blob over the limit of 10 bytes/) });
    } finally {
      server.maxBlobBytes = Number.POSITIVE_INFINITY;
    }
  });

  it("re-sends a persist left unanswered when the connection dropped, with the same request id", async () => {
    server.answerAssets = false;
    const id = `write_and_persist-${++n}`;
    server.execute(id, "write_and_persist", [{ files: [{ path: "r.txt", content: "resent" }] }, "r.txt"], "assets");
    const first = await server.waitFor("persist", (m) => m.executionId === id);
    server.answerAssets = true;
    server.socket.terminate();
    const again = await server.waitFor("persist", (m) => m.executionId === id && m.connection !== first.connection);
    expect(again.requestId).toBe(first.requestId);
    expect(await server.result(id)).toMatchObject({ type: "succeeded" });
  });
});

describe("restore", () => {
  it("fails with the asset and the entry named when the server serves wrong bytes, leaving nothing behind", async () => {
    const content = `corrupt me ${Date.now()}`;
    const v = await run("write_and_persist", [{ files: [{ path: "ok.txt", content: "fine" }, { path: "d/bad.txt", content }] }, ["ok.txt", "d"]]);
    const ref = refOf(v.asset);
    server.corruptBlobs.add(sha(content));
    try {
      const r = await run("try_restore", [v.asset, {}, "in"]);
      expect(r.outcome.name).toBe("AssetIntegrityError");
      expect(r.outcome.message).toMatch(new RegExp(`^asset ${ref.assetId}: entry d/bad\\.txt: the bytes received do not match the entry: expected ${content.length} bytes with sha256 ${sha(content)}, got ${content.length} bytes with sha256 [0-9a-f]{64}: the stored blob is corrupt$`));
      expect(r.files).not.toContain("in/d/bad.txt");
      expect(r.files.filter((f: string) => f.includes("tributary-part"))).toEqual([]);
    } finally {
      server.corruptBlobs.delete(sha(content));
    }
  });

  it("fails with the asset and the entry named when a blob is missing", async () => {
    const content = `missing ${Date.now()}`;
    const v = await run("write_and_persist", [{ files: [{ path: "gone.txt", content }] }, "gone.txt"]);
    await unlink(server.blobFile(sha(content)));
    const r = await run("try_restore", [v.asset, {}]);
    expect(r.outcome).toEqual({ name: "AssetIntegrityError", message: `asset ${refOf(v.asset).assetId}: entry gone.txt: blob sha256:${sha(content)} is missing on the server, or environment staging of project default does not refer to it` });
    expect(r.files).toEqual([]);
  });

  it("fails with the server's message for an unknown asset", async () => {
    const ghost: AssetRef = { assetId: "ghost", env: "staging", entries: [] };
    const r = await run("try_restore", [{ [ASSET_TAG]: ghost }, {}]);
    expect(r.outcome).toEqual({ name: "Error", message: "restore of asset ghost: unknown asset ghost" });
  });

  it.each([
    ["..", "../escaped.txt"],
    ["a .. in the middle", "a/../../escaped.txt"],
    ["an absolute path", "/tmp/escaped.txt"],
    ["an empty segment", "a//b.txt"],
  ])("refuses an entry path with %s, writing nothing", async (_what, entryPath) => {
    const content = "evil";
    // Stored blob, so that only the path can stop it.
    await run("write_and_persist", [{ files: [{ path: "e.txt", content }] }, "e.txt"]);
    const assetId = `evil-${++n}`;
    server.assets.set(assetId, { assetId, env: "staging", entries: [{ path: "fine.txt", size: 4, sha256: sha(content) }, { path: entryPath, size: 4, sha256: sha(content) }] });
    const r = await run("try_restore", [{ [ASSET_TAG]: server.assets.get(assetId) }, {}, "in"]);
    expect(r.outcome).toMatchObject({ name: "AssetPathError", message: expect.stringContaining(`asset ${assetId}: entry ${JSON.stringify(entryPath)}`) });
    expect(r.files).toEqual([]);
    expect(existsSync(path.join(root, "escaped.txt"))).toBe(false);
    expect(await readdir(root)).not.toContain("escaped.txt");
  });

  it("refuses to restore through a link that points outside the target directory, or into a `to` that does", async () => {
    const v = await run("write_and_persist", [{ files: [{ path: "link/x.txt", content: "through" }] }, "link"]);
    const through = await run("try_restore", [v.asset, { links: [{ path: "link", target: outside }] }]);
    expect(through.outcome).toMatchObject({ name: "AssetPathError", message: expect.stringMatching(/link is a symbolic link that points outside .* \(to .*\): refused/) });
    const into = await run("try_restore", [v.asset, { links: [{ path: "target", target: outside }] }, "target"]);
    expect(into.outcome).toMatchObject({ name: "AssetPathError", message: expect.stringContaining("target is a symbolic link that points outside") });
    const dotdot = await run("try_restore", [v.asset, {}, "../up"]);
    expect(dotdot.outcome).toMatchObject({ name: "AssetPathError", message: expect.stringContaining('restore() to: the path "../up" contains ".."') });
    expect(await readdir(outside)).not.toContain("x.txt");
  });

  it("replaces a link at the entry's own path instead of writing through it", async () => {
    await writeFile(path.join(outside, "victim.txt"), "untouched");
    const v = await run("write_and_persist", [{ files: [{ path: "victim.txt", content: "restored" }] }, "victim.txt"]);
    const r = await run("try_restore", [v.asset, { links: [{ path: "victim.txt", target: path.join(outside, "victim.txt") }] }]);
    expect(r.outcome).toBe("restored");
    expect(await readFile(path.join(outside, "victim.txt"), "utf8")).toBe("untouched");
  });
});

describe("a big asset", () => {
  it("persists and restores 200 MiB streaming, with the process's memory growing well under 100 MiB", async () => {
    const size = 200 * MiB;
    // The source is written here, streaming, before the baseline: only persist and restore are measured.
    const source = path.join(outside, "big-source.bin");
    const hash = createHash("sha256");
    const out = createWriteStream(source);
    for (let left = size; left > 0; left -= 64 * 1024) {
      const b = randomBytes(64 * 1024);
      hash.update(b);
      if (!out.write(b)) await once(out, "drain");
    }
    out.end();
    await once(out, "finish");
    const key = hash.digest("hex");
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 10);
    try {
      const asset = await run("make_big", [source], 120_000);
      expect(refOf(asset).entries).toEqual([{ path: "big.bin", size, sha256: key }]);
      expect((await stat(server.blobFile(key))).size).toBe(size);
      const checked = await run("check_big", [asset], 120_000);
      expect(checked).toMatchObject({ sha256: key, size });
    } finally {
      clearInterval(sampler);
      await rm(server.blobFile(key), { force: true });
      await rm(source, { force: true });
    }
    const grew = (peak - baseline) / MiB;
    console.log(`RSS grew ${grew.toFixed(1)} MiB while persisting and restoring 200 MiB`);
    expect(grew).toBeLessThan(100);
  }, 180_000);
});

describe("at the end", () => {
  it("has removed every working directory", async () => {
    await new Promise((r) => setTimeout(r, 50));
    expect(await readdir(root)).toEqual([]);
    expect(logs.filter((l) => l.level === "warn" && l.message.includes("working directory"))).toEqual([]);
  });
});

describe("an agent with the default root and keepWorkdirs", () => {
  it("puts working directories in <tmp>/tributary-agent-<pid> (mode 700) and keeps them", async () => {
    const s = await ScriptedServer.start();
    const a = await startAgent({ server: s.url, workers: 1, modules: ["assets.ts"], cwd: fixtures, keepWorkdirs: true, onLog: () => undefined });
    const defaultRoot = path.join(tmpdir(), `tributary-agent-${process.pid}`);
    try {
      s.execute("kept-1", "workdir_info", [], "assets");
      const r = await s.result("kept-1");
      const v = r.type === "succeeded" ? (r.value as { workdir: string }) : undefined;
      expect(v?.workdir).toBe(path.join(await import("node:fs/promises").then((fs) => fs.realpath(defaultRoot)), "kept-1"));
      expect(await readFile(path.join(v?.workdir ?? "", "left.txt"), "utf8")).toBe("left behind?");
      expect((await lstat(defaultRoot)).mode & 0o777).toBe(0o700);
    } finally {
      await a.stop({ drainMs: 100 });
      await s.close();
      await rm(defaultRoot, { recursive: true, force: true });
    }
  });
});
