/**
 * Studio live by the server's push, in real headless Chromium against a real
 * server with --auth (the token in the tab's sessionStorage, so the push
 * stream is read with the Bearer header) and a real agent: a run page follows
 * the run as it proceeds, and a re-run step, without a reload and without
 * timers (while nothing changes the page asks the API nothing); a run of
 * 500 steps and more is a windowed list, not a graph.
 */
import { randomBytes } from "node:crypto";
import type { Page } from "playwright-core";
import { beforeAll, describe, expect, it } from "vitest";
import type { RunAnswer } from "../../src/protocol/api.js";
import { useStudio } from "../support/studio-fixture.js";
import type { Harness } from "./support.js";

const ADMIN = randomBytes(24).toString("hex");

describe("Studio live, by the server's push", () => {
  const studio = useStudio({ name: "studio-live", harness: { adminToken: ADMIN } });
  let h: Harness;

  beforeAll(async () => {
    h = studio.h;
    await h.agent();
  }, 60_000);

  /**
   * A page with the admin token in its tab, counting its requests of the
   * environment's API (the push streams apart: the environment's, and the
   * project's that the header's list of environments follows), its loads
   * and its errors.
   */
  const open = async () => {
    const context = await studio.context({ token: ADMIN });
    const errors: string[] = [];
    const page = await studio.page(context, errors, 15_000);
    const counts = { api: 0, streams: 0, projectStreams: 0, loads: 0 };
    page.on("request", (r) => {
      const path = new URL(r.url()).pathname;
      // The environment's stream; the header's list of environments has the project's (`/projects/{p}/changes`).
      if (/\/envs\/[^/]+\/changes$/.test(path)) counts.streams++;
      else if (path.endsWith("/changes")) counts.projectStreams++;
      else if (/^\/api\/projects\/[^/]+\/envs\/[^/]+\//.test(path)) counts.api++;
    });
    page.on("load", () => counts.loads++);
    return { page, counts, errors, close: () => context.close() };
  };

  const nodeStatuses = (page: Page) => page.locator(".node[data-step]").evaluateAll((ns) => ns.map((n) => n.getAttribute("data-status")).sort());

  it("a run page follows the run as it proceeds and a re-run step, without a reload; idle, it asks the API nothing", async () => {
    const { page, counts, errors, close } = await open();
    const runId = await h.api.submit("flows:chain_slow", [4, 250]);
    await page.goto(`${h.server.url}/projects/${h.api.project}/envs/production/runs/${runId}`);
    // The root and its four steps, one after the other, each appearing as the run reaches it.
    await expect.poll(() => page.locator(".node[data-step]").count(), { timeout: 15_000 }).toBe(5);
    await page.locator("h1 .status-succeeded").waitFor();
    const view = await h.api.ok<RunAnswer>("GET", `/runs/${runId}`);
    expect(await nodeStatuses(page)).toEqual(view.steps.map((s) => s.status).sort());
    expect(counts.loads).toBe(1);
    expect(counts.streams).toBe(1);
    expect(counts.projectStreams).toBe(1);

    // Nothing changes: the page asks nothing (the old polling asked every second, then every 5 s). The run's
    // last commits may still be on their way (a loaded machine): first a quiet moment, then the count.
    for (let last = -1; last !== counts.api; ) {
      last = counts.api;
      await page.waitForTimeout(1500);
    }
    const idle = counts.api;
    await page.waitForTimeout(6000);
    expect(counts.api - idle).toBe(0);

    // A step re-run: its new execution shows up, pushed.
    const step = view.steps.find((s) => s.parentExecutionId !== undefined)!;
    const before = counts.api;
    await h.api.ok("POST", `/runs/${runId}/steps/${step.stepId}/rerun`, {});
    await expect.poll(() => page.locator(`.node[data-step="${step.stepId}"]`).getAttribute("aria-label"), { timeout: 15_000 }).toMatch(/2 attempt/);
    expect(counts.loads).toBe(1);
    expect(counts.streams).toBe(1);
    // A few refetches of the run (throttled), not one per commit.
    expect(counts.api - before).toBeGreaterThan(0);
    expect(counts.api - before).toBeLessThanOrEqual(4);
    expect(errors).toEqual([]);
    await close();
  });

  it("a run of 500 steps and more is a windowed list: every step counted, only the rows in view drawn, each row selectable", async () => {
    const { runId } = await h.api.run("flows:fan_out", [600]);
    const { page, errors, close } = await open();
    await page.goto(`${h.server.url}/projects/${h.api.project}/envs/production/runs/${runId}`);
    const list = page.locator(".step-list");
    await list.waitFor();
    expect(await list.getAttribute("data-steps")).toBe("601");
    expect(await page.locator(".node[data-step]").count()).toBe(0);
    const drawn = await page.locator(".step-row").count();
    expect(drawn).toBeGreaterThan(10);
    expect(drawn).toBeLessThan(100);
    // Scrolled to the end: the last step is drawn, the first no longer.
    const view = await h.api.ok<RunAnswer>("GET", `/runs/${runId}`);
    const last = view.steps.at(-1)!;
    await list.evaluate((el) => (el.scrollTop = el.scrollHeight));
    await page.locator(`.step-row[data-step="${last.stepId}"]`).waitFor();
    expect(await page.locator(`.step-row[data-step="${view.steps[0]!.stepId}"]`).count()).toBe(0);
    await page.locator(`.step-row[data-step="${last.stepId}"]`).click();
    await page.waitForURL(`**/steps/${last.stepId}`);
    await page.locator(".details h2").first().waitFor();
    await studio.shot(page, "run-big-list", { fullPage: false });
    expect(errors).toEqual([]);
    await close();
  });
});
