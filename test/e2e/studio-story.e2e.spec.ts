/**
 * Issue 11's point 5 as one story, in one headless Chromium page against a
 * real server and real agents: the demo's workflow (examples/orders.ts,
 * `process_orders([101, 102, 103])`, what `npm run demo` runs) is opened in
 * Studio; every step is in the graph with the API's statuses; a step's
 * result is read; the history slider moved back shows the run as the API
 * had it then (`?at=SEQ`); a branch `dev` is made from the history view, its
 * agent hosts a changed `format_total` (test/e2e/fixtures/orders-v2.ts), and
 * that step is re-run there from the step's page, its new execution
 * appearing without a reload; the compare view of the two runs marks
 * exactly that step. A screenshot of each view goes to .scratch/studio/story/.
 */
import type { BrowserContext, Page } from "playwright-core";
import { beforeAll, describe, expect, it } from "vitest";
import type { CompareAnswer, HistoryEntry, RunAnswer } from "../../src/protocol/api.js";
import { useStudio } from "../support/studio-fixture.js";
import { ROOT, type Harness } from "./support.js";

const ORDERS = `${ROOT}/examples/orders.ts`;
const ORDERS_V2 = `${ROOT}/test/e2e/fixtures/orders-v2.ts`;

describe("Studio's story: the demo's run, its history, a re-run in a branch, the two runs compared", () => {
  const studio = useStudio({ name: "studio-story", shots: "story", harness: {} });
  let h: Harness;
  let context: BrowserContext;
  let page: Page;
  let runId: string;
  let view: RunAnswer;
  const errors: string[] = [];
  let loads = 0;
  const shot = (name: string) => studio.shot(page, name, { fullPage: false });
  const runPath = (env = "production") => `/projects/${h.api.project}/envs/${env}/runs/${runId}`;
  const step = (target: string) => view.steps.find((s) => s.target.target === target)!;
  /** The charge that failed once and was retried (order 102's). */
  const retried = () => view.steps.find((s) => s.target.target === "charge" && s.executions.length > 1)!;
  /** The graph's nodes as drawn: step id and status, sorted. */
  const drawn = () => page.locator(".graph [data-step]").evaluateAll((gs) => gs.map((g) => [g.getAttribute("data-step"), g.getAttribute("data-status")]).sort());
  const nodesOf = (v: RunAnswer) => v.steps.map((s) => [s.stepId, s.status]).sort();

  beforeAll(async () => {
    h = studio.h;
    await h.agent({ modules: [ORDERS] });
    const run = await h.api.run("orders:process_orders", [[101, 102, 103]]);
    expect(run.outcome.status).toBe("succeeded");
    runId = run.runId;
    view = await h.api.ok<RunAnswer>("GET", `/runs/${runId}`);
    context = await studio.context();
    page = await studio.page(context, errors, 15_000);
    page.on("load", () => loads++);
  }, 60_000);

  it("opens the demo's run: every step in the graph, with the API's statuses and attempts", async () => {
    await page.goto(`${h.server.url}${runPath()}`);
    await expect.poll(() => page.locator(".graph [data-step]").count()).toBe(view.steps.length);
    // process_orders, three charges, summarize, format_total.
    expect(view.steps.map((s) => s.target.target).sort()).toEqual(["charge", "charge", "charge", "format_total", "process_orders", "summarize"]);
    expect(await drawn()).toEqual(nodesOf(view));
    for (const s of view.steps) {
      expect(await page.locator(`.graph [data-step="${s.stepId}"]`).getAttribute("aria-label")).toContain(`${s.executions.length} attempt(s)`);
    }
    // Order 102's charge failed once and was retried.
    expect(retried().executions).toHaveLength(2);
    expect(await page.locator(`.graph [data-step="${retried().stepId}"]`).textContent()).toContain("charge(102)");
    expect(await page.locator("h1 .status").textContent()).toBe(view.run.status);
    await shot("1-run");
  });

  it("opens a step and reads its result; the retried charge lists both its executions", async () => {
    const summarize = step("summarize");
    await page.locator(`.graph [data-step="${summarize.stepId}"]`).click();
    await page.waitForURL(`**${runPath()}/steps/${summarize.stepId}`);
    expect(summarize.result?.kind).toBe("inline");
    const shown = await page.locator(".details .result pre").textContent();
    expect(JSON.parse(shown!)).toEqual(summarize.result!.kind === "inline" ? summarize.result!.value : undefined);
    const charge = retried();
    await page.locator(`.graph [data-step="${charge.stepId}"]`).click();
    await page.waitForURL(`**/steps/${charge.stepId}`);
    await expect.poll(() => page.locator(".details tr[data-execution]").count()).toBe(charge.executions.length);
    await shot("2-step");
  });

  it("moves the history slider back and sees the run as the API had it then", async () => {
    await page.getByRole("link", { name: "its events, with time travel" }).click();
    await page.waitForURL(`**${runPath()}/history/steps/**`);
    const history = await h.api.ok<HistoryEntry[]>("GET", `/runs/${runId}/history`);
    const seqs = [...new Set(history.map((e) => e.seq))];
    await page.locator(`.as-of[data-at="${seqs.at(-1)}"]:not(.stale)`).waitFor();
    expect(await drawn()).toEqual(nodesOf(view));
    // Back to the first commit, then on to the third: the run as it began.
    const slider = page.locator("#travel-slider");
    await slider.focus();
    await page.keyboard.press("Home");
    await page.keyboard.press("ArrowRight");
    await page.keyboard.press("ArrowRight");
    const at = seqs[2]!;
    await page.waitForURL(`**?at=${at}`);
    expect(await page.getByTestId("at-seq").textContent()).toBe(String(at));
    await page.locator(`.as-of[data-at="${at}"]:not(.stale)`).waitFor();
    const then = await h.api.ok<RunAnswer>("GET", `/runs/${runId}?at=${at}`);
    expect(nodesOf(then)).not.toEqual(nodesOf(view));
    expect(await drawn()).toEqual(nodesOf(then));
    expect(await page.locator("table.events tr.future").count()).toBe(history.filter((e) => e.seq > at).length);
    await shot("3-history");
    // Back to the latest, and a branch `dev` made there.
    await page.getByRole("button", { name: "latest" }).click();
    await page.locator(`.as-of[data-at="${seqs.at(-1)}"]:not(.stale)`).waitFor();
    await page.locator(".branch-here input").fill("dev");
    await page.locator(".branch-here button[type=submit]").click();
    await expect.poll(() => page.locator(".branch-here .made").textContent()).toContain(`a branch of production at seq ${seqs.at(-1)}`);
  });

  it("re-runs a step in the branch from its page; the new execution appears without a reload", async () => {
    // dev's agent hosts the changed format_total.
    await h.agent({ modules: [ORDERS_V2], env: "dev" });
    const target = step("format_total");
    // From the history view back to the run (its crumbs), and the step opened in the graph.
    await page.locator(".crumbs a", { hasText: runId }).click();
    await page.waitForURL(`**${runPath()}`);
    await page.locator(`.graph [data-step="${target.stepId}"]`).click();
    await page.waitForURL(`**${runPath()}/steps/${target.stepId}`);
    await page.evaluate(() => ((globalThis as unknown as { marker: number }).marker = 1));
    await page.locator('select[name="rerun-env"]').selectOption("dev");
    await page.locator('button[name="rerun"]').click();
    await page.waitForURL(`**${runPath("dev")}/steps/${target.stepId}/executions/**`);
    const executionId = decodeURIComponent(page.url().split("/").at(-1)!);
    const row = page.locator(`.details tr[data-execution="${executionId}"]`);
    await row.waitFor();
    await expect.poll(() => row.textContent()).toContain("succeeded");
    const inDev = await h.envApi("dev").ok<RunAnswer>("GET", `/runs/${runId}`);
    expect(inDev.executions[executionId]).toMatchObject({ reason: "rerun", status: "succeeded" });
    await expect.poll(() => page.locator(`.graph [data-step="${target.stepId}"]`).getAttribute("aria-label")).toContain(
      `${inDev.steps.find((s) => s.stepId === target.stepId)!.executions.length} attempt(s)`,
    );
    // Re-run here, the step's result is its own execution's: no longer marked from production (the steps it
    // did not re-run still are), and its panel names that execution, and production's run as where it came from.
    const rerun = inDev.steps.find((s) => s.stepId === target.stepId)!;
    expect(rerun).toMatchObject({ status: "succeeded", resultExecutionId: executionId, reusedFrom: { env: "production", runId } });
    expect(rerun.resultReused).toBeUndefined();
    const markers = (stepId: string) => page.locator(`.graph [data-step="${stepId}"] .node-markers`).allTextContents();
    await expect.poll(() => markers(target.stepId)).toEqual([]);
    expect(await markers(step("summarize").stepId)).toEqual([expect.stringContaining("from production")]);
    const resultFrom = page.locator(".details dd[data-result-from]");
    expect(await resultFrom.getAttribute("data-result-from")).toBe(executionId);
    expect(await resultFrom.locator("a").getAttribute("href")).toBe(`${runPath("dev")}/steps/${target.stepId}/executions/${encodeURIComponent(executionId)}`);
    const origin = page.locator(".details dd[data-reused-from]");
    expect(await origin.evaluate((dd) => dd.previousElementSibling?.textContent)).toBe("brought in from");
    expect(await origin.textContent()).toContain(`run ${runId} in production`);
    expect(await page.locator(".details .facts").textContent()).not.toMatch(/marks/);
    // The branch's run is drawn whole: a call edge to each step but the root, reused ones included.
    expect(await page.locator(".graph path.edge-call").count()).toBe(inDev.steps.length - 1);
    // No reload: the page's own state is still there, and it was loaded once.
    expect(await page.evaluate(() => (globalThis as unknown as { marker?: number }).marker)).toBe(1);
    expect(loads).toBe(1);
    await shot("4-rerun-in-branch");
  });

  it("compares the production run with its re-run in dev: exactly the re-run step is marked", async () => {
    const target = step("format_total");
    await page.goto(`${h.server.url}${runPath()}`);
    const form = page.locator('form[aria-label="compare with another run"]');
    await form.locator('input[name="env"]').fill("dev");
    await form.locator('button[type="submit"]').click();
    await page.waitForURL(`**/projects/${h.api.project}/compare/production/${runId}/dev/${runId}`);
    const api = await h.api.ok<CompareAnswer>("GET", `/runs/${runId}/compare?withEnv=dev`);
    const rows = page.locator("tr.cmp-row");
    await expect.poll(() => rows.count()).toBe(api.steps.length);
    expect(api.steps).toHaveLength(view.steps.length);
    const drawnChanges = await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-change")));
    expect(drawnChanges).toEqual(api.steps.map((m) => m.change));
    const marked = page.locator('tr.cmp-row:not([data-change="same"])');
    expect(await marked.count()).toBe(1);
    // dev's agent hosts other code for it (orders-v2.ts): the re-run's memo key differs, so its code changed (and its result).
    expect(await marked.getAttribute("data-change")).toBe("code-changed");
    expect(await marked.locator("td.cmp-place").textContent()).toContain("orders:format_total");
    expect(await marked.textContent()).toContain(target.stepId);
    await shot("5-compare");
    expect(errors).toEqual([]);
  });
});
