/**
 * Comparing two runs, for the branch use case: a production run of
 * examples/etl.ts, a branch `dev` whose agent hosts examples/etl-v2.ts (a new
 * scoring formula), and the run's `score` step re-run in `dev` (the real
 * CLI's `runs rerun`). `runs diff` (the real CLI) and Studio's compare view
 * (headless Chromium) must both report exactly that step as changed: its code
 * (the memo key of the re-run's execution) and its result.
 */
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { RunView } from "../../src/projections/index.js";
import type { CompareAnswer, HistoryEntry, RunAnswer } from "../../src/protocol/api.js";
import { useStudio } from "../support/studio-fixture.js";
import { cli, ROOT, type Harness } from "./support.js";

const ETL = join(ROOT, "examples/etl.ts");
const ETL_V2 = join(ROOT, "examples/etl-v2.ts");

describe("a production run beside its re-run in a branch", () => {
  const studio = useStudio({ name: "compare-studio", harness: {} });
  let h: Harness;
  let runId: string;
  let scoreStep: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    h = studio.h;
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

  it("runs diff reports exactly the re-run step, as code-changed (the branch's agent hosts new code) and result-changed; exit 0", async () => {
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
    expect(changed[0]).toMatchObject({
      change: "code-changed",
      changes: ["code-changed", "result-changed"],
      a: { stepId: scoreStep, target: "etl:score" },
      b: { stepId: scoreStep },
    });
    // Told by the memo key the re-run's ExecutionCreated recorded (the step keeps the key it was scheduled with).
    const devScore = dev.steps.find((s) => s.stepId === scoreStep)!;
    const rerunX = dev.executions[devScore.executions[devScore.executions.length - 1]!]!;
    expect(rerunX.reason).toBe("rerun");
    expect(rerunX.memoKey).toBeDefined();
    expect(rerunX.memoKey).not.toBe(devScore.memoKey);
    expect(prod.steps.find((s) => s.stepId === scoreStep)!.memoKey).toBe(devScore.memoKey);
    // The results the two sides show are the two environments' own.
    const resultOf = (v: RunView) => JSON.stringify(v.steps.find((s) => s.stepId === scoreStep)!.result);
    expect(resultOf(prod)).not.toEqual(resultOf(dev));

    const text = await cli(["runs", "diff", runId, runId, "--b-env", "dev"], env);
    expect(text.code, text.stderr).toBe(0);
    const rows = text.stdout.split("\n").filter((l) => /^\s*(root|\d+:)/.test(l));
    expect(rows).toHaveLength(prod.steps.length);
    expect(rows.filter((l) => !/^\s*\S+\s+same\b/.test(l))).toEqual([expect.stringMatching(new RegExp(`score\\s+code-changed\\s+${scoreStep} succeeded\\s+${scoreStep} succeeded\\s+code \\(another memo key`))]);
    expect(text.stdout).toMatch(/A: production\//);
    expect(text.stdout).toMatch(/B: dev\//);

    const bad = await cli(["runs", "diff", runId, "--b-env", "no.such"], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/--b-env: invalid environment name "no\.such"/);
  });

  it("runs show --at in a branch that only sees the run from production reads production's log, and says so", async () => {
    const made = await h.api.call("POST", `/api/projects/${h.api.project}/envs`, { name: "dev2", from: "production" });
    expect(made.status).toBe(200);
    const history = await h.api.ok<HistoryEntry[]>("GET", `/runs/${runId}/history`);
    const first = history[0]!.seq;
    const shown = await cli(["runs", "show", runId, "--env", "dev2", "--at", String(first)], env);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout.split("\n")[0]).toBe(`as of seq ${first} of production's log (this environment sees the run from its parent)`);
    expect(shown.stdout).toMatch(/etl:daily/);
    // Without --at the branch has no such run (it is not brought in).
    expect((await cli(["runs", "show", runId, "--env", "dev2"], env)).code).toBe(1);
  });

  it("Studio: from the run page's 'compare with…', the compare view of the two runs marks exactly the re-run step; its step ids open each side", async () => {
    const context = await studio.context();
    const errors: string[] = [];
    const page = await studio.page(context, errors);
    const project = h.api.project;
    await page.goto(`${h.server.url}/projects/${project}/envs/production/runs/${runId}`);
    const form = page.locator('form[aria-label="compare with another run"]');
    await form.locator('input[name="run"]').waitFor();
    expect(await form.locator('input[name="run"]').inputValue()).toBe(runId);
    await form.locator('input[name="env"]').fill("dev");
    await form.locator('button[type="submit"]').click();
    await page.waitForURL(`**/projects/${project}/compare/production/${runId}/dev/${runId}`);
    const rows = page.locator("tr.cmp-row");
    const prod = await h.api.view(runId);
    await expect.poll(() => rows.count()).toBe(prod.steps.length);
    const marked = page.locator('tr.cmp-row:not([data-change="same"])');
    expect(await marked.count()).toBe(1);
    expect(await marked.getAttribute("data-change")).toBe("code-changed");
    expect(await marked.locator("td.cmp-place").textContent()).toContain("etl:score");
    expect(await marked.textContent()).toContain("code changed");
    await studio.shot(page, "compare");
    // Only changes: the one row.
    await page.getByLabel("only changes").check();
    await expect.poll(() => rows.count()).toBe(1);
    // B's step id opens the step in dev's run, A's in production's.
    await marked.locator("td").nth(3).getByRole("link", { name: scoreStep }).click();
    await page.waitForURL(`**/projects/${project}/envs/dev/runs/${runId}/steps/${scoreStep}`);
    await page.goBack();
    await page.waitForURL(`**/compare/**`);
    await page.locator('tr.cmp-row:not([data-change="same"])').locator("td").nth(2).getByRole("link", { name: scoreStep }).click();
    await page.waitForURL(`**/projects/${project}/envs/production/runs/${runId}/steps/${scoreStep}`);
    // An unknown run on the B side is a message, not a blank page.
    await page.goto(`${h.server.url}/projects/${project}/compare/production/${runId}/dev/no-such-run`);
    await expect.poll(() => page.locator('[role="alert"]').textContent()).toMatch(/comparing: not found — no run no-such-run/);
    expect(errors.filter((e) => !/404/.test(e))).toEqual([]);
    await context.close();
  });

  it("after a cascade the root's new calls are matched: score with new code is code-changed, report's input arguments-changed", async () => {
    const rerun = await cli(["runs", "rerun", runId, scoreStep, "--env", "dev", "--cascade", "--wait"], env);
    expect(rerun.code, rerun.stderr).toBe(0);
    const r = await cli(["runs", "diff", runId, "--b-env", "dev", "--json"], env);
    expect(r.code, r.stderr).toBe(0);
    const c = JSON.parse(r.stdout) as CompareAnswer;
    const dev = await h.envApi("dev").ok<RunAnswer>("GET", `/runs/${runId}`);
    const root = dev.steps.find((s) => s.stepId === dev.run.rootStepId)!;
    const latest = root.executions[root.executions.length - 1];
    // B's side of each call is a step the root's latest execution called (the new calls), not the earlier ones.
    const called = new Set<string>(dev.steps.filter((s) => s.parentExecutionId === latest).map((s) => s.stepId));
    expect(called.size).toBe(4);
    expect(c.steps.filter((m) => m.depth === 1).every((m) => called.has(m.b!.stepId))).toBe(true);
    expect(c.steps.map((m) => [m.a?.target, m.changes])).toEqual([
      ["etl:daily", ["result-changed"]],
      ["etl:extract", []],
      ["etl:clean", []],
      ["etl:score", ["code-changed", "result-changed"]],
      ["etl:report", ["arguments-changed", "result-changed"]],
    ]);
  });
});
