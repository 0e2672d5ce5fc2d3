/**
 * `tributary agent --watch`: a change to a module (or a file it imports)
 * reloads the agent's modules in new worker threads and registers the new
 * manifest (a `ManifestRegistered`); an execution running at the change
 * finishes on the old code, new ones run the new code; a module that fails
 * to load after a change leaves the old code in place, saying why. A real
 * agent process on a temp copy of a module, on both logs.
 */
import type { ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { eventually, LOG_KINDS, ROOT, spawnCli, startHarness, waitForOutput, type Harness } from "./support.js";

const SDK = join(ROOT, "src/index.js");

/** The module: `which(ms)` sleeps `ms` and returns what its code says (and its helper's VERSION). */
const moduleText = (answer: string, extra = "") => `
import { setTimeout as sleep } from "node:timers/promises";
import { context, workflow } from ${JSON.stringify(SDK)};
import { VERSION } from "./helper.js";

export const repository = "watched";

export const which = workflow("which", async (ms: number) => {
  await sleep(ms, undefined, { signal: context().signal });
  return ${JSON.stringify(answer)} + "/" + VERSION;
});
${extra}
`;
const helperText = (version: number) => `export const VERSION = ${version};\n`;

describe.each(LOG_KINDS)("tributary agent --watch (%s log)", (kind) => {
  let h: Harness | undefined;
  const children: ChildProcess[] = [];
  const dirs: string[] = [];
  afterEach(async () => {
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    await h?.close();
    h = undefined;
    for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
  });

  /** The registered manifest of `watched`: its seq and the code hash of each target. */
  const manifest = async () => {
    const { lines } = await h!.api.ok<{ lines: string[] }>("GET", "/projections/dump");
    const line = lines.find((l) => l.startsWith("manifests\twatched\t"));
    if (line === undefined) return undefined;
    const doc = JSON.parse(line.split("\t")[2]!) as { seq: number; targets: { name: string; codeHash: string }[] };
    return { seq: doc.seq, targets: Object.fromEntries(doc.targets.map((t) => [t.name, t.codeHash])) };
  };

  it("reloads a changed module: new executions run the new code, a running one finishes on the old; a new manifest is registered", async () => {
    h = await startHarness(kind);
    const dir = await mkdtemp(join(tmpdir(), "trib-watch-"));
    dirs.push(dir);
    const mod = join(dir, "watched.ts");
    await writeFile(join(dir, "package.json"), JSON.stringify({ type: "module" }));
    await writeFile(join(dir, "helper.ts"), helperText(1));
    await writeFile(mod, moduleText("old"));

    const agent = spawnCli(["agent", "--server", h.server.url, "--project", h.api.project, "--watch", mod]);
    children.push(agent);
    let err = "";
    agent.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    await waitForOutput(agent, /agent \S+ connected/);
    await eventually(() => err.includes(`watching ${dir} for changes`), 5000, "the watch");
    expect(await h.api.result(await h.api.submit("watched:which", [0]))).toEqual({ status: "succeeded", value: "old/1" });
    const before = (await manifest())!;

    // A run in flight across the change.
    const long = await h.api.submit("watched:which", [3000]);
    await eventually(async () => (await h!.api.view(long)).steps.some((s) => s.status === "running"));
    await writeFile(mod, moduleText("new", `export const added = workflow("added", () => "added");`));
    await eventually(() => /reloaded \(.*watched\.ts changed\): watched \(2 targets\)/.test(err), 15_000, "the reload");

    expect(await h.api.result(await h.api.submit("watched:which", [0]))).toEqual({ status: "succeeded", value: "new/1" });
    expect(await h.api.result(await h.api.submit("watched:added", []))).toEqual({ status: "succeeded", value: "added" });
    expect(await h.api.result(long)).toEqual({ status: "succeeded", value: "old/1" });
    // The manifest registered again, with the new code's hash and the new target.
    const after = (await manifest())!;
    expect(after.seq).toBeGreaterThan(before.seq);
    expect(after.targets["which"]).not.toBe(before.targets["which"]);
    expect(Object.keys(after.targets).sort()).toEqual(["added", "which"]);

    // A file the module imports: its change reloads too (the manifest's code hashes do not change: no new manifest).
    await writeFile(join(dir, "helper.ts"), helperText(2));
    await eventually(() => /reloaded \(.*helper\.ts changed\)/.test(err), 15_000, "the second reload");
    expect(await h.api.result(await h.api.submit("watched:which", [0]))).toEqual({ status: "succeeded", value: "new/2" });
    expect((await manifest())!.seq).toBe(after.seq);
  });

  it("keeps the old code when the changed module does not load, and says why on stderr", async () => {
    h = await startHarness(kind);
    const dir = await mkdtemp(join(tmpdir(), "trib-watch-"));
    dirs.push(dir);
    const mod = join(dir, "watched.ts");
    await writeFile(join(dir, "package.json"), JSON.stringify({ type: "module" }));
    await writeFile(join(dir, "helper.ts"), helperText(1));
    await writeFile(mod, moduleText("old"));
    const agent = spawnCli(["agent", "--server", h.server.url, "--project", h.api.project, "--watch", mod]);
    children.push(agent);
    let err = "";
    agent.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    await waitForOutput(agent, /agent \S+ connected/);
    const before = (await manifest())!;

    await writeFile(mod, `${moduleText("broken")}\nthrow new Error("this module is broken on purpose");\n`);
    await eventually(() => /reload failed, keeping the old code: .*this module is broken on purpose/.test(err), 15_000, "the failed reload");
    expect(await h.api.result(await h.api.submit("watched:which", [0]))).toEqual({ status: "succeeded", value: "old/1" });
    expect((await manifest())!.seq).toBe(before.seq);
    // Fixed again: it loads.
    await writeFile(mod, moduleText("fixed"));
    await eventually(() => /reloaded \(/.test(err), 15_000, "the reload");
    expect(await h.api.result(await h.api.submit("watched:which", [0]))).toEqual({ status: "succeeded", value: "fixed/1" });
    expect(agent.exitCode).toBe(null);
  });
});
