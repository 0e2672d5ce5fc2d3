/**
 * Comparing two runs, for the branch use case: a production run of
 * examples/etl.ts, a branch `dev` whose agent hosts examples/etl-v2.ts (a new
 * scoring formula), and the run's `score` step re-run in `dev` (the real
 * CLI's `runs rerun`). `runs diff` (the real CLI) and Studio's compare view
 * (headless Chromium) must both report exactly that step as changed.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildStudio } from "../../scripts/build-studio.mjs";
import type { RunView } from "../../src/projections/index.js";
import type { CompareAnswer, RunAnswer } from "../../src/protocol/api.js";
import { cli, ROOT, startHarness, type Harness } from "./support.js";

const ETL = join(ROOT, "examples/etl.ts");
const ETL_V2 = join(ROOT, "examples/etl-v2.ts");

describe("a production run beside its re-run in a branch", () => {
  let h: Harness;
  let studioDir: string;
  let runId: string;
  let scoreStep: string;
  let env: Record<string, string>;
  let browser: Browser | undefined;

  beforeAll(async () => {
    studioDir = await mkdtemp(join(tmpdir(), "trib-compare-studio-"));
    await buildStudio({ outDir: studioDir });
    h = await startHarness("embedded", { server: { studioDir } });
    env = { TRIBUTARY_SERVER: h.server.url, TRIBUTARY_PROJECT: h.api.project };
    await h.agent({ modules: [ETL] });
    const run = await h.api.run("etl:daily", ["2026-11-21"]);
    expect(run.outcome.status).toBe("succeeded");
    runId = run.runId;
    scoreStep = run.view.steps.find((s) => s.target.target === "score")!.stepId;
    const dev = await h.api.call("POST", `/api/projects/${h.api.project}/envs`, { name: "dev", from: "production" });
    expect(dev.status).toBe(200);
    await h.agent({ modules: [ETL_V2], env: "dev" });
    const rerun = await cli(["runs", "rerun", runId, scoreStep, "--env", "dev", "--wait"], env);
    expect(rerun.code, rerun.stderr).toBe(0);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await h?.close();
    await rm(studioDir, { recursive: true, force: true });
  });

  it("runs diff reports exactly the re-run step, as result-changed; exit 0", async () => {
    const json = await cli(["runs", "diff", runId, "--b-env", "dev", "--json"], env);
    expect(json.code, json.stderr).toBe(0);
    const c = JSON.parse(json.stdout) as CompareAnswer;
    const prod = await h.api.view(runId);
    const dev = await h.envApi("dev").ok<RunAnswer>("GET", `/runs/${runId}`);
    expect(c.envs).toEqual({ a: "production", b: "dev" });
    // Every step of the production run is matched once, each to a step of dev's run.
    expect(c.steps.map((m) => m.a?.stepId).sort()).toEqual(prod.steps.map((s) => s.stepId).sort());
    expect(c.steps.every((m) => m.b !== undefined && dev.steps.some((s) => s.stepId === m.b!.stepId))).toBe(true);
    const changed = c.steps.filter((m) => m.change !== "same");
    expect(changed).toHaveLength(1);
    expect(changed[0]).toMatchObject({ change: "result-changed", a: { stepId: scoreStep, target: "etl:score" }, b: { stepId: scoreStep } });
    // The results the two sides show are the two environments' own.
    const resultOf = (v: RunView) => JSON.stringify(v.steps.find((s) => s.stepId === scoreStep)!.result);
    expect(resultOf(prod)).not.toEqual(resultOf(dev));

    const text = await cli(["runs", "diff", runId, runId, "--b-env", "dev"], env);
    expect(text.code, text.stderr).toBe(0);
    const rows = text.stdout.split("\n").filter((l) => /^\s*(root|\d+:)/.test(l));
    expect(rows).toHaveLength(prod.steps.length);
    expect(rows.filter((l) => !/\bsame\b/.test(l))).toEqual([expect.stringMatching(new RegExp(`score\\s+result-changed\\s+${scoreStep} succeeded\\s+${scoreStep} succeeded`))]);
    expect(text.stdout).toMatch(/A: production\//);
    expect(text.stdout).toMatch(/B: dev\//);

    const bad = await cli(["runs", "diff", runId, "--b-env", "no.such"], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/--b-env: invalid environment name "no\.such"/);
  });
});
