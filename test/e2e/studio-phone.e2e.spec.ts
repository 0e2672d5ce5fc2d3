/**
 * Studio at phone width and by keyboard, in headless Chromium (390×844):
 * for every view, the page does not scroll sideways (wide tables and the
 * graph scroll inside their boxes), and Tab reaches its main actions.
 * Keyboard specifics: a graph node is selected with Enter, Escape closes
 * the step panel and the submit form, the history slider moves by arrow.
 * Screenshots under .scratch/studio/phone/.
 */
import { join, resolve } from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { beforeAll, describe, expect, it } from "vitest";
import type { LogLine, RunAnswer } from "../../src/protocol/api.js";
import { useStudio } from "../support/studio-fixture.js";
import { FLOWS, type Harness } from "./support.js";

const SLOG = resolve(import.meta.dirname, "fixtures/studio-logs.ts");
/** A phone: 390×844, touch. */
const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 1, hasTouch: true, isMobile: true } as const;

interface View {
  readonly name: string;
  readonly path: () => string;
  /** Shown once the page has its data. */
  readonly ready: string;
  /** Before measuring (open a fold, say). */
  readonly prepare?: (page: Page) => Promise<void>;
  /** The main actions: each must be reached by Tab. */
  readonly actions: readonly string[];
}

describe("Studio at phone width, by keyboard, in Chromium", () => {
  const studio = useStudio({ name: "studio-phone", shots: "phone", harness: {} });
  let context: BrowserContext;
  let h: Harness;
  const errors: string[] = [];
  const ids: Record<string, string> = {};

  const env = () => `/projects/${h.api.project}/envs/production`;
  const open = async (path: string): Promise<Page> => {
    const page = await studio.page(context, errors);
    await page.goto(`${h.server.url}${path}`);
    return page;
  };
  /** Tabs from the top of the page until each of `selectors` has had the focus (or 120 presses). */
  const tabReaches = async (page: Page, selectors: readonly string[]): Promise<string[]> => {
    await page.evaluate("document.activeElement?.blur()");
    const reached = new Set<string>();
    for (let i = 0; i < 120 && reached.size < selectors.length; i++) {
      await page.keyboard.press("Tab");
      const hit = await page.evaluate<string[]>(`${JSON.stringify(selectors)}.filter((s) => document.activeElement?.matches(s))`);
      for (const s of hit) reached.add(s);
    }
    return selectors.filter((s) => !reached.has(s));
  };
  /** What can take the focus but has no name a screen reader could say (no text, label, aria-label or title). */
  const nameless = (page: Page) =>
    page.evaluate<string[]>(`[...document.querySelectorAll('a[href], button, input, select, textarea, summary, [tabindex="0"]')]
      .filter((e) => {
        const labelled = e.labels?.length ? [...e.labels].some((l) => l.textContent.trim() !== "") : false;
        return !(e.getAttribute("aria-label") || e.getAttribute("title") || e.textContent.trim() || labelled || e.getAttribute("placeholder"));
      })
      .map((e) => e.outerHTML.slice(0, 120))`);
  const wide = (page: Page) => page.evaluate<{ scroll: number; inner: number }>("({ scroll: document.documentElement.scrollWidth, inner: window.innerWidth })");

  const views: View[] = [
    { name: "envs", path: () => `/projects/${h.api.project}`, ready: ".tree a", actions: ['input[name="project"]', 'select[name="env"]', ".tree a.env-name"] },
    { name: "runs", path: () => env(), ready: "table.runs a", actions: ["details.submit-form > summary", 'input[name="search"]', 'select[name="status"]', "table.runs a", 'button[name="older"]:not(:disabled), a[href$="/agents"]'] },
    {
      name: "submit",
      path: () => env(),
      ready: "details.submit-form",
      prepare: async (page) => {
        await page.locator("details.submit-form > summary").click();
        await page.locator('select[name="submit-target"]').selectOption("flows:double");
      },
      actions: ['select[name="submit-target"]', 'input[name="raw"]', 'input[name^="param-"]', '.submit-form button[type="submit"]'],
    },
    { name: "run", path: () => `${env()}/runs/${ids["fan"]}`, ready: ".graph .node", actions: [".run-actions a", ".graph .node", ".tl-row", 'input[name="run"]'] },
    { name: "step", path: () => `${env()}/runs/${ids["fan"]}/steps/${ids["fanStep"]}`, ready: ".details h2", actions: [".graph .node", 'select[name="rerun-env"]', 'button[name="rerun"]', ".details .executions a"] },
    { name: "history", path: () => `${env()}/runs/${ids["fan"]}/history`, ready: ".events tbody tr", actions: ['input[type="range"]', 'input[name="branch"]', ".events button.link"] },
    { name: "logs", path: () => `${env()}/runs/${ids["talk"]}/logs`, ready: ".log-line", actions: ['select[name="level"]', 'select[name="step"]', ".log-line a"] },
    { name: "asset", path: () => `${env()}/assets/${ids["asset"]}`, ready: 'button[name="preview"]', actions: ['button[name="preview"]'] },
    { name: "agents", path: () => `${env()}/agents`, ready: "table.agents-table", actions: ["main a"] },
    { name: "compare", path: () => `/projects/${h.api.project}/compare/production/${ids["fan"]}/production/${ids["fan2"]}`, ready: ".cmp-table tbody tr", actions: ['input[type="checkbox"]', ".cmp-table a"] },
  ];

  beforeAll(async () => {
    h = studio.h;
    await h.agent({ modules: [FLOWS, SLOG] });
    // A branch, so the environments tree has depth.
    expect((await h.api.call("POST", `/api/projects/${h.api.project}/envs`, { name: "dev-phone", from: "production" })).status).toBe(200);
    const fan = await h.api.run("flows:fan_out", [3]);
    ids["fan"] = fan.runId;
    ids["fanStep"] = fan.view.steps.find((s) => s.stepId !== fan.view.run.rootStepId)!.stepId;
    ids["fan2"] = (await h.api.run("flows:fan_out", [4])).runId;
    ids["talk"] = (await h.api.run("slog:talk", [2, 10])).runId;
    const pics = await h.api.run("slog:pictures_flow", ["a note"]);
    ids["asset"] = Object.values(pics.view.executions).flatMap((e) => e.assetsPersisted)[0]!;
    context = await studio.context(PHONE);
  }, 90_000);

  for (const v of [
    "envs",
    "runs",
    "submit",
    "run",
    "step",
    "history",
    "logs",
    "asset",
    "agents",
    "compare",
  ]) {
    it(`${v}: no sideways scrolling at 390 px, and Tab reaches its main actions`, async () => {
      const view = views.find((x) => x.name === v)!;
      const page = await open(view.path());
      await page.locator(view.ready).first().waitFor();
      await view.prepare?.(page);
      const w = await wide(page);
      await studio.shot(page, v);
      expect(w.scroll, `${v}: the page is ${w.scroll} px wide in a ${w.inner} px window`).toBeLessThanOrEqual(w.inner);
      expect(await tabReaches(page, view.actions), `${v}: not reached by Tab`).toEqual([]);
      expect(await nameless(page), `${v}: focusable without a name`).toEqual([]);
      await page.close();
    });
  }

  it("the timeline's labels end before its bars begin; a project name of 3,000 characters breaks instead of widening the page", async () => {
    const page = await open(`${env()}/runs/${ids["fan"]}`);
    await page.locator(".tl-row").first().waitFor();
    const overlaps = await page.evaluate<string[]>(`[...document.querySelectorAll(".tl-row")].flatMap((g) => {
      const label = g.querySelector(".tl-label").getBoundingClientRect();
      return [...g.querySelectorAll("rect")].filter((r) => r.getBoundingClientRect().left < label.right).map(() => g.querySelector(".tl-label").textContent);
    })`);
    expect(overlaps).toEqual([]);
    await page.close();
    // Its own page, outside the console check: the API refuses the name, as it should.
    const long = await context.newPage();
    await long.goto(`${h.server.url}/projects/${"p".repeat(3000)}`);
    await long.locator("main .error, main .crumbs").first().waitFor();
    const w = await wide(long);
    expect(w.scroll, `the page is ${w.scroll} px wide in a ${w.inner} px window`).toBeLessThanOrEqual(w.inner);
    await long.close();
  });

  it("by keyboard: Enter on a graph node selects it, Escape closes the panel and gives the node the focus back", async () => {
    const page = await open(`${env()}/runs/${ids["fan"]}`);
    // The panels stack (the details under the graph), and the graph, wider than the phone, pans inside its box.
    await page.locator(".graph .node").first().waitFor();
    const layout = await page.evaluate<{ stacked: boolean; pans: boolean }>(`(() => {
      const g = document.querySelector(".graph"), d = document.querySelector(".details");
      const before = g.scrollLeft; g.scrollLeft = 120; const pans = g.scrollWidth > g.clientWidth && g.scrollLeft > before; g.scrollLeft = before;
      return { stacked: d.getBoundingClientRect().top >= g.getBoundingClientRect().bottom, pans };
    })()`);
    expect(layout).toEqual({ stacked: true, pans: true });
    const node = page.locator(`.graph .node[data-step="${ids["fanStep"]}"]`);
    await node.focus();
    await page.keyboard.press("Enter");
    await page.waitForURL(`**/steps/${ids["fanStep"]}`);
    await page.locator(".details h2").waitFor();
    // At phone width the panel, below the graph, is brought into view.
    await expect.poll(() => page.evaluate('document.querySelector(".details").getBoundingClientRect().top < window.innerHeight')).toBe(true);
    await studio.shot(page, "step-selected", { fullPage: false });
    await page.keyboard.press("Escape");
    await page.waitForURL((u) => u.pathname.endsWith(`/runs/${ids["fan"]}`));
    await expect.poll(() => page.evaluate('document.activeElement?.getAttribute("data-step")')).toBe(ids["fanStep"]);
    // A timeline row opens its execution with Enter.
    const row = page.locator(".tl-row").first();
    const execution = await row.getAttribute("data-execution");
    await row.focus();
    await page.keyboard.press("Enter");
    await page.waitForURL(`**/executions/${execution}`);
    await page.close();
  });

  it("by keyboard: Escape folds the submit form and closes an asset's preview; the history slider moves by arrow", async () => {
    const runs = await open(env());
    await runs.locator("details.submit-form > summary").focus();
    await runs.keyboard.press("Enter");
    await runs.locator('select[name="submit-target"]').waitFor();
    await runs.locator('select[name="submit-target"]').focus();
    await runs.keyboard.press("Escape");
    expect(await runs.evaluate('document.querySelector("details.submit-form").open')).toBe(false);
    expect(await runs.evaluate("document.activeElement?.tagName")).toBe("SUMMARY");
    await runs.close();

    const asset = await open(`${env()}/assets/${ids["asset"]}`);
    await asset.locator('button[name="preview"]').first().focus();
    await asset.keyboard.press("Enter");
    await asset.locator("[data-preview]").waitFor();
    await studio.shot(asset, "asset-preview");
    await asset.keyboard.press("Escape");
    await expect.poll(() => asset.locator("[data-preview]").count()).toBe(0);
    await asset.close();

    const history = await open(`${env()}/runs/${ids["fan"]}/history`);
    const slider = history.locator('input[type="range"]');
    await slider.focus();
    await history.keyboard.press("Home");
    await history.waitForURL(/\?at=\d+/);
    const first = new URL(history.url()).searchParams.get("at");
    await history.keyboard.press("ArrowRight");
    await expect.poll(() => new URL(history.url()).searchParams.get("at")).not.toBe(first);
    expect(Number(new URL(history.url()).searchParams.get("at"))).toBeGreaterThan(Number(first));
    await history.close();
  });

  it("a step's panel shows its log lines (the API's lines of that step), and follows a running step without a reload", async () => {
    const lines = (await h.api.ok<LogLine[]>("GET", `/runs/${ids["talk"]}/logs`));
    const view = await h.api.ok<RunAnswer>("GET", `/runs/${ids["talk"]}`);
    const whisper = view.steps.find((x) => x.target.target === "whisper")!;
    const mine = lines.filter((l) => l.stepId === whisper.stepId);
    expect(mine.length).toBeGreaterThan(0);
    const page = await open(`${env()}/runs/${ids["talk"]}/steps/${whisper.stepId}`);
    await expect.poll(() => page.locator(".step-logs .log-line .msg").allTextContents()).toEqual(mine.map((l) => l.message));
    expect(await page.locator(".step-logs .log-line").evaluateAll((els) => els.map((e) => e.getAttribute("data-level")))).toEqual(mine.map((l) => l.level));
    await page.locator(".step-logs").screenshot({ path: join(studio.shots, "step-logs.png") });
    await page.close();

    // A running root step: its lines come in while the page stays.
    const submitted = await h.api.call<{ runId: string }>("POST", `/api/projects/${h.api.project}/envs/production/runs`, { target: "slog:talk", arguments: [4, 250] });
    expect(submitted.status).toBe(200);
    const live = submitted.body.runId;
    const root = (await h.api.ok<RunAnswer>("GET", `/runs/${live}`)).run.rootStepId;
    const follow = await open(`${env()}/runs/${live}/steps/${root}`);
    await h.api.result(live);
    const all = (await h.api.ok<LogLine[]>("GET", `/runs/${live}/logs`)).filter((l) => l.stepId === root);
    expect(all.length).toBeGreaterThanOrEqual(8);
    await expect.poll(() => follow.locator(".step-logs .log-line .msg").allTextContents(), { timeout: 10_000 }).toEqual(all.map((l) => l.message));
    await follow.close();
  });

  it("dark, at phone width too: the step page does not scroll sideways", async () => {
    const dark = await studio.context({ viewport: PHONE.viewport, isMobile: true, hasTouch: true, colorScheme: "dark" });
    const page = await studio.page(dark, errors);
    await page.goto(`${h.server.url}${env()}/runs/${ids["fan"]}/steps/${ids["fanStep"]}`);
    await page.locator(".details h2").waitFor();
    const w = await wide(page);
    await studio.shot(page, "step-dark");
    expect(w.scroll).toBeLessThanOrEqual(w.inner);
    await dark.close();
  });

  it("shows no console errors", () => {
    expect(errors).toEqual([]);
  });
});
