/**
 * Groups, progress and metrics end to end, on both logs: what task code
 * reports is recorded (throttled by the agent, the last report always
 * sent), folded by the projections (a rebuild gives the same), shown by
 * `runs show`, and `runs watch` follows the run until it ends, in plain
 * lines when piped.
 */
import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { watchRun } from "../../src/cli/watch.js";
import { BIN, cli, eventually, LOG_KINDS, ROOT, spawnCli, startHarness, waitForOutput, type Harness } from "./support.js";

const CONTROL = resolve(import.meta.dirname, "fixtures/control.ts");

describe.each(LOG_KINDS)("progress and metrics on the %s log", (kind) => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  });
  const where = (h: Harness) => ["--server", h.server.url, "--project", h.api.project];

  it("are recorded, throttled with the last always sent, kept by a rebuild, and shown by runs show", async () => {
    const h = await startHarness(kind);
    cleanups.push(() => h.close());
    await h.agent({ modules: [CONTROL] });
    const { runId, outcome, view } = await h.api.run("control:training", [3, 50]);
    expect(outcome).toEqual({ status: "succeeded", value: [3, "said"] });
    const trainStep = view.steps.find((s) => s.target.target === "train")!;
    expect(trainStep.options.group).toBe("train");
    const trainExec = trainStep.executions[0]!;
    expect(view.progress?.[trainExec]).toMatchObject({ fraction: 1, message: "epoch 3/3", metrics: { loss: { value: 1 / 3 } } });
    // A thousand reports made in one go: the first went at once, the last when the execution ended; none between.
    const chatterExec = view.steps.find((s) => s.target.target === "chatter")!.executions[0]!;
    const history = await h.api.history(runId);
    const of = (type: string, x: string) => history.filter((e) => e.type === type && e.data["executionId"] === x);
    expect(of("ExecutionProgressed", chatterExec).map((e) => e.data["fraction"])).toEqual([0.001, 1]);
    expect(of("MetricRecorded", chatterExec).map((e) => e.data["value"])).toEqual([1, 1000]);
    expect(view.progress?.[chatterExec]?.metrics["i"]).toMatchObject({ value: 1000, count: 2 });
    // Every report precedes the execution's end in the log.
    const endSeq = history.find((e) => e.type === "ExecutionSucceeded" && e.data["executionId"] === chatterExec)!.seq;
    expect(of("ExecutionProgressed", chatterExec).every((e) => e.seq < endSeq)).toBe(true);

    const live = await h.api.ok<{ lines: string[] }>("GET", "/projections/dump");
    await h.api.ok("POST", "/projections/rebuild");
    expect((await h.api.ok<{ lines: string[] }>("GET", "/projections/dump")).lines).toEqual(live.lines);
    expect(live.lines.some((l) => l.startsWith("progress"))).toBe(true);

    const shown = await cli(["runs", "show", runId, ...where(h)]);
    expect(shown.stdout).toMatch(/control:train\(3, 50\)  \[train\]  succeeded/);
    expect(shown.stdout).toContain("◔ 100% epoch 3/3  loss=0.333333");
    const history2 = await cli(["runs", "history", runId, ...where(h)]);
    expect(history2.stdout).toMatch(/MetricRecorded .* i = 1000/);
  });

  it("runs watch, piped, prints plain lines as the run moves and exits when it ends: 0 if it succeeded, 3 if not", async () => {
    const h = await startHarness(kind);
    cleanups.push(() => h.close());
    await h.agent({ modules: [CONTROL] });
    // Paused until the watcher is there, so that it sees the run move (however slowly the CLI starts).
    await h.api.client.pauseEnvironment("production");
    const runId = await h.api.submit("control:training", [5, 500]);
    const child = spawnCli(["runs", "watch", runId, ...where(h)]);
    let stdout = "";
    child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
    const exited = new Promise<number | null>((done) => child.on("close", done));
    await waitForOutput(child, /environment is paused/);
    await h.api.client.resumeEnvironment("production");
    expect(await exited).toBe(0);
    expect(stdout).not.toContain("\x1b");
    const lines = stdout.trim().split("\n");
    expect(lines[0]).toMatch(new RegExp(`run ${runId}  control:training  running`));
    expect(lines[1]).toMatch(/step 1 control:training  queued  \(the environment is paused/);
    expect(lines.some((l) => /step \d+ control:train \[train\]  running  \d+(\.\d)?% epoch \d\/5  loss=/.test(l))).toBe(true);
    expect(lines.at(-1)).toMatch(new RegExp(`run ${runId} succeeded$`));
    // Each line is printed when something changed: never the same step line twice in a row.
    for (let i = 1; i < lines.length; i++) expect(lines[i]!.slice(14)).not.toBe(lines[i - 1]!.slice(14));

    const failing = await h.api.submit("control:broken", [200]);
    const w2 = await cli(["runs", "watch", failing, ...where(h)]);
    expect(w2.code).toBe(3);
    expect(w2.stdout.trim().split("\n").at(-1)).toMatch(/failed: Error: broken on purpose/);
  });

  it("runs watch into head: the watcher ends quietly with the reader", async () => {
    const h = await startHarness(kind);
    cleanups.push(() => h.close());
    await h.agent({ modules: [CONTROL] });
    const runId = await h.api.submit("control:training", [3, 300]);
    const sh = spawn("sh", ["-c", `"${process.execPath}" "${BIN}" runs watch ${runId} ${where(h).join(" ")} | head -n 1`], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    sh.stdout.on("data", (d: Buffer) => (out += d.toString()));
    sh.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((done) => sh.on("close", done));
    expect(code).toBe(0);
    expect(err).toBe("");
    expect(out.trim().split("\n")).toHaveLength(1);
    expect(out).toContain(`run ${runId}`);
    // A watch started on a terminal-less stream waits for the end, then says so (the run is not stopped by the watcher going).
    const child = spawnCli(["runs", "watch", runId, ...where(h)]);
    await waitForOutput(child, new RegExp(`run ${runId} succeeded`), 20_000);
    expect(await eventually(async () => (await h.api.view(runId)).run.status === "succeeded")).toBe(true);
  });

  it("runs watch on a terminal redraws the tree in place, cut to the terminal's width, until the run ends", async () => {
    const h = await startHarness(kind);
    cleanups.push(() => h.close());
    await h.agent({ modules: [CONTROL] });
    await h.api.client.pauseEnvironment("production");
    const runId = await h.api.submit("control:training", [3, 300]);
    const writes: string[] = [];
    const watching = watchRun(h.api.client, runId, { tty: true, json: false, intervalMs: 100, columns: () => 60, write: (t) => void writes.push(t) });
    await eventually(() => writes.some((w) => w.includes("environment is paused")), 10_000, "the paused tree");
    await h.api.client.resumeEnvironment("production");
    expect(await watching).toBe(0);
    // The first drawing is drawn as is; each next one goes back up over the last and clears it first.
    expect(writes[0]).not.toContain("\x1b");
    for (let i = 1; i < writes.length; i++) {
      const up = Number(/^\x1b\[(\d+)F\x1b\[J/.exec(writes[i]!)?.[1]);
      expect(up).toBe(writes[i - 1]!.split("\n").length - 1);
    }
    const last = writes.at(-1)!.replace(/^\x1b\[\d+F\x1b\[J/, "");
    expect(last).toMatch(/^run \S+  control:training  SUCCEEDED/);
    expect(last).not.toContain("(watching");
    for (const line of writes.join("").replace(/\x1b\[\d+F\x1b\[J/g, "").split("\n")) expect(line.length).toBeLessThanOrEqual(60);
    expect(writes.some((w) => /◔ \d+(\.\d)?% epoch/.test(w))).toBe(true);
  });
});
