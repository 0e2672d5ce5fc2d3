/**
 * Studio's history of a run, in real headless Chromium (test/support/browser.ts)
 * against a real server and agent: the events in log order, the time-travel
 * slider moved back (by keyboard) redraws the graph as the API answers
 * `?at=SEQ`, the URL keeps `at`, and "branch here" makes a branch at the
 * slider's sequence that the environments tree then shows. Screenshots go to
 * .scratch/studio/.
 */
import type { BrowserContext, Page } from "playwright-core";
import { beforeAll, describe, expect, it } from "vitest";
import type { HistoryEntry, RunAnswer } from "../../src/protocol/api.js";
import { useStudio } from "../support/studio-fixture.js";
import { FLOWS, type Harness } from "./support.js";

describe("Studio: a run's history with time travel, in Chromium", () => {
  const studio = useStudio({ name: "studio-history", harness: {} });
  let h: Harness;
  let context: BrowserContext;
  let runId: string;
  let latest: RunAnswer;
  let seqs: number[];
  const errors: string[] = [];
  const shot = (page: Page, name: string) => studio.shot(page, name);

  beforeAll(async () => {
    h = studio.h;
    await h.agent({ modules: [FLOWS] });
    ({ runId } = await h.api.run("flows:fan_out", [3]));
    latest = await h.api.ok<RunAnswer>("GET", `/runs/${runId}`);
    const history = await h.api.ok<HistoryEntry[]>("GET", `/runs/${runId}/history`);
    seqs = [...new Set(history.map((e) => e.seq))];
    context = await studio.context();
  }, 60_000);

  const open = async (path: string): Promise<Page> => {
    const page = await studio.page(context, errors);
    await page.goto(`${h.server.url}${path}`);
    return page;
  };
  const historyPath = () => `/projects/${h.api.project}/envs/production/runs/${runId}/history`;
  /** The graph's nodes as drawn once the view as of `seq` is on screen: step and status. */
  const nodesAt = async (page: Page, seq: number) => {
    await page.locator(`.as-of[data-at="${seq}"]:not(.stale)`).waitFor();
    return page.locator(".graph [data-step]").evaluateAll((gs) => gs.map((g) => [g.getAttribute("data-step"), g.getAttribute("data-status")]).sort());
  };
  const apiNodes = (v: RunAnswer) => v.steps.map((s) => [s.stepId, s.status]).sort();

  it("lists every event in log order, opens at the latest, and the slider moved back shows the run as the API had it then", async () => {
    const history = await h.api.ok<HistoryEntry[]>("GET", `/runs/${runId}/history`);
    const page = await open(historyPath());
    await page.locator("table.events tbody tr").first().waitFor();
    const rows = await page.locator("table.events tbody tr").evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent)));
    expect(rows.map((r) => [Number(r[0]), Number(r[1]), r[3]])).toEqual(history.map((e) => [e.seq, e.index, e.type]));
    // Each event's step and execution, as its data names them.
    history.forEach((e, i) => {
      const data = (e as unknown as { data: { stepId?: string; executionId?: string } }).data;
      if (data.stepId) expect(rows[i]![4]).toBe(data.stepId);
      if (data.executionId) expect(rows[i]![5]).toBe(data.executionId);
    });
    // At the latest: the run as it is now.
    const last = seqs[seqs.length - 1]!;
    expect(await nodesAt(page, last)).toEqual(apiNodes(latest));
    await page.locator(`[data-step="${latest.run.rootStepId}"]`).waitFor();
    await shot(page, "history-latest");
    /** Where each node is drawn (its box), and the drawing's size. */
    const boxes = () =>
      page.locator(".graph").evaluate((el) => ({
        size: [el.querySelector("svg")!.getAttribute("width"), el.querySelector("svg")!.getAttribute("height")],
        at: Object.fromEntries([...el.querySelectorAll("[data-step]")].map((g) => [g.getAttribute("data-step"), [g.querySelector("rect")!.getAttribute("x"), g.querySelector("rect")!.getAttribute("y")]])),
      }));
    const whole = await boxes();

    // Back to the first commit by keyboard: one step, the root's, not finished.
    const slider = page.locator("#travel-slider");
    await slider.focus();
    await page.keyboard.press("Home");
    const first = seqs[0]!;
    await page.waitForURL(`**/history?at=${first}`);
    const then = await h.api.ok<RunAnswer>("GET", `/runs/${runId}?at=${first}`);
    expect(then.steps.length).toBeLessThan(latest.steps.length);
    expect(await nodesAt(page, first)).toEqual(apiNodes(then));
    expect(await page.locator(`.graph [data-step="${latest.run.rootStepId}"]`).getAttribute("data-status")).not.toBe("succeeded");
    // Drawn in the latest commit's layout: each step where it stands at the latest, in a drawing of the same size.
    const early = await boxes();
    expect(early.size).toEqual(whole.size);
    for (const [step, at] of Object.entries(early.at)) expect(at, `step ${step}`).toEqual(whole.at[step]);
    expect(await page.getByTestId("at-seq").textContent()).toBe(String(first));
    expect(await page.locator("table.events tr.future").count()).toBe(history.filter((e) => e.seq > first).length);

    // One on by arrow, and a step selected there keeps `at` in its URL.
    await slider.focus();
    await page.keyboard.press("ArrowRight");
    const second = seqs[1]!;
    await page.waitForURL(`**/history?at=${second}`);
    expect(await nodesAt(page, second)).toEqual(apiNodes(await h.api.ok<RunAnswer>("GET", `/runs/${runId}?at=${second}`)));
    await page.locator(`.graph [data-step="${latest.run.rootStepId}"]`).click();
    await page.waitForURL(`**/history/steps/${latest.run.rootStepId}?at=${second}`);
    await page.locator(`.details .step[data-step="${latest.run.rootStepId}"]`).waitFor();
    await shot(page, "history-back");
    // "latest" follows the end again: at leaves the URL.
    await page.getByRole("button", { name: "latest" }).click();
    await expect.poll(() => new URL(page.url()).search).toBe("");
    expect(await nodesAt(page, seqs[seqs.length - 1]!)).toEqual(apiNodes(latest));
    await page.close();
  });

  it("an ?at that is no sequence of the run says so, and the address takes the one shown", async () => {
    const last = seqs[seqs.length - 1]!;
    const page = await open(`${historyPath()}?at=abc`);
    await expect.poll(() => page.getByTestId("at-notice").textContent()).toBe("?at=abc is not a sequence; showing the latest");
    expect(await page.getByTestId("at-seq").textContent()).toBe(String(last));
    await expect.poll(() => new URL(page.url()).search).toBe("");
    await page.goto(`${h.server.url}${historyPath()}?at=99999999`);
    await expect.poll(() => page.getByTestId("at-notice").textContent()).toContain("?at=99999999 is past the run's last commit");
    await expect.poll(() => new URL(page.url()).search).toBe(`?at=${last}`);
    // A good one: no notice.
    await page.goto(`${h.server.url}${historyPath()}?at=${seqs[0]}`);
    await page.locator(`.as-of[data-at="${seqs[0]}"]`).waitFor();
    expect(await page.getByTestId("at-notice").count()).toBe(0);
    await page.close();
  });

  it("a link with ?at opens there; branch here makes a branch at that sequence, seen in the environments", async () => {
    const mid = seqs[Math.floor(seqs.length / 2)]!;
    const page = await open(`${historyPath()}?at=${mid}`);
    expect(await nodesAt(page, mid)).toEqual(apiNodes(await h.api.ok<RunAnswer>("GET", `/runs/${runId}?at=${mid}`)));
    await page.locator(".branch-here input").fill("from-history");
    await page.locator(".branch-here button[type=submit]").click();
    await page.locator(".branch-here .made").waitFor();
    expect(await page.locator(".branch-here .made").textContent()).toContain(`a branch of production at seq ${mid}`);
    const envs = (await h.api.call<{ name: string; branchedFrom?: { parent: string; at: number } }[]>("GET", `/api/projects/${h.api.project}/envs`)).body;
    expect(envs.find((e) => e.name === "from-history")?.branchedFrom).toEqual({ parent: "production", at: mid });
    await page.locator(".branch-here .made a", { hasText: "environments" }).click();
    await page.waitForURL(`**/projects/${h.api.project}`);
    const branch = page.locator(`li[data-env="production"] li[data-env="from-history"] > .env`);
    await branch.waitFor();
    expect(await branch.textContent()).toContain(`branch of production at seq ${mid}`);
    // A name the server refuses is its message on the page.
    await page.goto(`${h.server.url}${historyPath()}?at=${mid}`);
    await page.locator(".branch-here input").fill("bad.name");
    await page.locator(".branch-here button[type=submit]").click();
    await expect.poll(() => page.locator(".branch-here .error").textContent()).toMatch(/invalid environment name "bad\.name"/);
    // After a success, a refusal: its message replaces the success, which no longer stands beside it.
    await page.locator(".branch-here input").fill("from-history-2");
    await page.locator(".branch-here button[type=submit]").click();
    await page.locator(".branch-here .made").waitFor();
    await page.locator(".branch-here input").fill("bad.name");
    await page.locator(".branch-here button[type=submit]").click();
    await expect.poll(() => page.locator(".branch-here .error").count()).toBe(1);
    expect(await page.locator(".branch-here .made").count()).toBe(0);
    await page.close();
    expect(errors.filter((e) => !/400 \(Bad Request\)/.test(e))).toEqual([]);
  });
});
