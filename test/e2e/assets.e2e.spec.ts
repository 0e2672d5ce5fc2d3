import { readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli, LOG_KINDS, startHarness, type Harness } from "./support.js";

const FILES = resolve(import.meta.dirname, "fixtures/files.ts");

interface AssetRefJson {
  assetId: string;
  name?: string;
  env: string;
  entries: { path: string; size: number; sha256: string }[];
}
const refOf = (v: unknown) => (v as { "$tributary.asset": AssetRefJson })["$tributary.asset"];

describe.each(LOG_KINDS)("assets on the %s log", (kind) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(kind);
    await h.agent({ modules: [FILES] });
  });
  afterAll(() => h?.close());

  it("a task persists files and a nested directory; another restores them, byte for byte", async () => {
    const { outcome, view } = await h.api.run("files:files_flow", ["one"]);
    expect(outcome).toEqual({
      status: "succeeded",
      value: {
        restored: ["in/out/a.txt", "in/out/empty.txt", "in/out/nested/bin.dat"],
        text: "hello one",
        bin: [0, 1, 2, 255, 254],
        listed: [["out/a.txt", 9], ["out/empty.txt", 0], ["out/nested/bin.dat", 5]],
      },
    });
    const produced = view.steps.find((s) => s.target.target === "produce")!;
    const ref = refOf(produced.result?.kind === "inline" ? produced.result.value : undefined);
    expect(ref).toMatchObject({ name: "out-one", env: "production" });
    // The log holds only the facts: paths, sizes, hashes.
    const history = await h.api.history(view.run.runId);
    const persisted = history.find((e) => e.type === "AssetPersisted")!;
    expect(persisted.data).toMatchObject({ assetId: ref.assetId, name: "out-one", metadata: { tag: "one" } });
    expect((persisted.data.entries as { blobKey: string }[]).every((e) => /^sha256:[0-9a-f]{64}$/.test(e.blobKey))).toBe(true);
    expect(history.filter((e) => e.type === "AssetRestored")).toHaveLength(1);
    // runs show lists what each execution persisted and restored.
    const x = Object.values(view.executions).find((e) => e.assetsPersisted.length)!;
    expect(x.assetsPersisted).toEqual([ref.assetId]);
    expect(Object.values(view.executions).some((e) => (e.assetsRestored as readonly string[]).includes(ref.assetId))).toBe(true);
  });

  it("equal content is stored once, whatever asset or execution it belongs to", async () => {
    const a = await h.api.run("files:files_flow", ["same"]);
    const b = await h.api.run("files:files_flow", ["same"]);
    const key = (v: typeof a) => refOf((v.view.steps.find((s) => s.target.target === "produce")!.result as { value: unknown }).value);
    const [ra, rb] = [key(a), key(b)];
    expect(ra.assetId).not.toBe(rb.assetId);
    expect(ra.entries.map((e) => e.sha256)).toEqual(rb.entries.map((e) => e.sha256));
    if (kind === "embedded") {
      const count = async (dir: string): Promise<number> => {
        let n = 0;
        for (const d of await readdir(dir, { withFileTypes: true })) n += d.isDirectory() ? (d.name === "tmp" ? 0 : await count(join(dir, d.name))) : 1;
        return n;
      };
      const before = await count(join(h.dataDir, "blobs"));
      await h.api.run("files:files_flow", ["same"]);
      expect(await count(join(h.dataDir, "blobs"))).toBe(before);
    }
  });

  it("paths outside the working directory are refused before anything is uploaded", async () => {
    const { outcome } = await h.api.run("files:escape_flow");
    expect(outcome.status).toBe("succeeded");
    const errors = (outcome as unknown as { value: string[] }).value;
    expect(errors).toHaveLength(3);
    for (const e of errors) expect(e).not.toMatch(/persisted!/);
    expect(errors.join("\n")).toMatch(/outside/i);
  });

  it("a large file is streamed in and out", async () => {
    const { outcome } = await h.api.run("files:big_flow", [64]);
    expect(outcome).toEqual({ status: "succeeded", value: 1 });
  });

  it("the CLI lists, shows and downloads an asset; a corrupt blob is refused naming the asset and the file", async () => {
    const { view } = await h.api.run("files:files_flow", ["cli"]);
    const ref = refOf((view.steps.find((s) => s.target.target === "produce")!.result as { value: unknown }).value);
    const env = { TRIBUTARY_SERVER: h.server.url, TRIBUTARY_PROJECT: h.api.project };
    const ls = await cli(["assets", "ls", "--run", view.run.runId], env);
    expect(ls.code).toBe(0);
    expect(ls.stdout).toMatch(new RegExp(`${ref.assetId}\\s+out-cli\\s+3\\s+14`));
    const show = await cli(["assets", "show", ref.assetId], env);
    expect(show.stdout).toMatch(/out\/nested\/bin\.dat/);
    const to = join(h.dataDir, "downloaded");
    const dl = await cli(["assets", "download", ref.assetId, "--to", to], env);
    expect(dl).toMatchObject({ code: 0 });
    expect(await readFile(join(to, "out/a.txt"), "utf8")).toBe("hello cli");
    const runView = await cli(["runs", "show", view.run.runId], env);
    expect(runView.stdout).toMatch(new RegExp(`▲ persisted asset ${ref.assetId} "out-cli" \\(3 files, 14 bytes\\)`));
    expect(runView.stdout).toMatch(new RegExp(`▼ restored asset ${ref.assetId}`));

    if (kind === "embedded") {
      const entry = ref.entries.find((e) => e.path === "out/a.txt")!;
      await writeFile(join(h.dataDir, "blobs", entry.sha256.slice(0, 2), entry.sha256.slice(2)), "tampered!");
      await rm(to, { recursive: true, force: true });
      const bad = await cli(["assets", "download", ref.assetId, "--to", to], env);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(new RegExp(`${ref.assetId}.*out/a\\.txt|out/a\\.txt.*${ref.assetId}`));
    }
  });

  it("an asset persisted in a base environment is restored from a child, and from a branch", async () => {
    const { view } = await h.api.run("files:files_flow", ["base"]);
    const value = (view.steps.find((s) => s.target.target === "produce")!.result as { value: unknown }).value;
    const envs = `/api/projects/${h.api.project}/envs`;
    await h.api.call("POST", envs, { name: "child", base: "production" });
    await h.api.call("POST", envs, { name: "branch", from: "production" });
    for (const env of ["child", "branch"]) {
      await h.agent({ modules: [FILES], env });
      const r = await h.envApi(env).run("files:restore_only", [value]);
      expect(r.outcome).toMatchObject({ status: "succeeded", value: { text: "hello base" } });
      const restored = (await h.envApi(env).history(r.runId)).find((e) => e.type === "AssetRestored")!;
      expect(restored.data).toMatchObject({ assetId: refOf(value).assetId, fromEnv: "production" });
    }
  });
});
