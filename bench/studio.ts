/**
 * Studio in headless Chromium (Debian's, through playwright-core, as the
 * browser tests), against a server in this process with a real agent:
 * - a finished run of `steps` steps (a fan-out of trivial tasks) opened
 *   cold, `tries` times: the time from navigation to the run page drawn
 *   with its data (the page's own `tributary:run-rendered` mark), and the
 *   API answer's size;
 * - the page of a running fan-out of `running` tasks (each sleeping, so it
 *   runs for a while), watched from its submission to its end: long tasks
 *   (over 50 ms, PerformanceObserver), their total blocking time, frames
 *   drawn per second, and the API requests the page made;
 * - with `historySteps`, the history view's slider over a finished run of
 *   that many steps (see `historyBench`).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { buildStudio } from "../scripts/build-studio.mjs";
import { startAgent } from "../src/agent/runtime.js";
import { TributaryServer } from "../src/orchestrator/server/index.js";
import { launchChromium } from "../test/support/browser.js";
import { runWorkflow } from "./workflows.js";

export interface StudioRow {
  readonly what: string;
  readonly value: string;
}

const FLOWS = resolve(import.meta.dirname, "fixtures/bench-flows.ts");
const RUNS = "/api/projects/default/envs/production/runs";

/**
 * The history view of a finished fan-out of `steps` steps: opened at the
 * commit where half its steps are scheduled (the root still calling: commits
 * on add steps) (navigation to the graph as of it drawn), then the slider
 * moved one commit on by the arrow key `walk` times, each time waiting for
 * the graph as of the new point (press to drawn: the 120 ms rest, the API's
 * answer, the layout and the drawing), then held down (`sweep` presses 30 ms
 * apart) until the last point is drawn; long tasks throughout.
 */
const historyBench = async (server: TributaryServer, browser: Awaited<ReturnType<typeof launchChromium>>, steps: number): Promise<StudioRow[]> => {
  const rows: StudioRow[] = [];
  const made = await runWorkflow<number>(server.url, "bench:fan_out", [steps - 1]);
  const [{ runId }] = (await (await fetch(new URL(`${RUNS}?limit=1`, server.url))).json()) as [{ runId: string }];
  const events = (await (await fetch(new URL(`${RUNS}/${runId}/history`, server.url))).json()) as { seq: number; type: string }[];
  const seqs = [...new Set(events.map((e) => e.seq))];
  // Where half the steps are scheduled: the root is still calling, so commits on add steps (new structures to lay out).
  const half = events.filter((e) => e.type === "StepScheduled")[steps >> 1]!.seq;
  const mid = seqs.indexOf(half);
  const walk = 10;
  const sweep = 40;
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const drawn = (seq: number) => page.waitForSelector(`.as-of[data-at="${seq}"]:not(.stale) svg g.node`, { timeout: 60_000 });
  const t0 = performance.now();
  await page.goto(`${server.url}/projects/default/envs/production/runs/${runId}/history?at=${seqs[mid]}`);
  await drawn(seqs[mid]!);
  const open = performance.now() - t0;
  const shown = await page.locator(`.as-of svg g.node`).count();
  // The long tasks of the opening (buffered), then those that follow.
  await page.evaluate(`(() => {
    window.longTasks = [];
    new PerformanceObserver((l) => l.getEntries().forEach((e) => window.longTasks.push(e.duration))).observe({ type: "longtask", buffered: true });
  })()`);
  await page.waitForTimeout(50);
  const opened = (await page.evaluate("window.longTasks.splice(0)")) as number[];
  await page.focus("#travel-slider");
  const times: number[] = [];
  for (let i = 1; i <= walk; i++) {
    const t = performance.now();
    await page.keyboard.press("ArrowRight");
    await drawn(seqs[mid + i]!);
    times.push(performance.now() - t);
  }
  const walked = (await page.evaluate("window.longTasks.splice(0)")) as number[];
  const t1 = performance.now();
  for (let i = 0; i < sweep; i++) {
    await page.keyboard.press("ArrowRight");
    await page.waitForTimeout(30);
  }
  await drawn(seqs[mid + walk + sweep]!);
  const settled = performance.now() - t1;
  const swept = (await page.evaluate("window.longTasks.splice(0)")) as number[];
  await context.close();
  const ms = (n: number) => `${n.toFixed(0)} ms`;
  function tasks(l: number[]): string {
    return `${l.length} long tasks (longest ${ms(Math.max(0, ...l))}, blocking ${ms(l.reduce((a, d) => a + Math.max(0, d - 50), 0))} in all)`;
  }
  times.sort((a, b) => a - b);
  rows.push({ what: `history of a finished fan-out of ${steps} steps (${events.length} events, ${seqs.length} commits; made in ${made.seconds.toFixed(1)} s): open where half its steps are scheduled (${shown} steps by then)`, value: `${ms(open)}; ${tasks(opened)}` });
  rows.push({ what: `  slider one commit on (arrow key) to the graph as of it drawn, ${walk} times: median, max`, value: `${ms(times[times.length >> 1]!)}, ${ms(times[times.length - 1]!)}; ${tasks(walked)}` });
  rows.push({ what: `  slider held (${sweep} presses 30 ms apart) until the last point is drawn`, value: `${ms(settled)}; ${tasks(swept)}` });
  return rows;
};

export const runStudioBench = async (options: { steps: number; running: number; tries: number; historySteps?: number }): Promise<StudioRow[]> => {
  const rows: StudioRow[] = [];
  const dir = await mkdtemp(join(tmpdir(), "trib-bench-studio-"));
  const studioDir = join(dir, "studio");
  await buildStudio({ outDir: studioDir });
  const server = await TributaryServer.start({ dataDir: join(dir, "data"), port: 0, studioDir, onNotice: () => {} });
  const agent = await startAgent({ server: server.url, project: "default", env: "production", tags: {}, modules: [FLOWS], concurrency: 100 });
  const browser = await launchChromium();
  try {
    if (options.historySteps) rows.push(...(await historyBench(server, browser, options.historySteps)));
    if (options.steps <= 0) return rows;
    // A finished run of `steps` steps (the root and its tasks).
    const big = await runWorkflow<number>(server.url, "bench:fan_out", [options.steps - 1]);
    const list = (await (await fetch(new URL(`${RUNS}?limit=1`, server.url))).json()) as { runId: string }[];
    const runId = list[0]!.runId;
    let bytes = 0;
    const apiTimes: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t = performance.now();
      bytes = (await (await fetch(new URL(`${RUNS}/${runId}`, server.url))).arrayBuffer()).byteLength;
      apiTimes.push(performance.now() - t);
    }
    apiTimes.sort((a, b) => a - b);
    rows.push({ what: `finished fan-out run of ${options.steps} steps (made in ${big.seconds.toFixed(1)} s): its API answer (median of 3)`, value: `${(bytes / 2 ** 20).toFixed(1)} MiB in ${apiTimes[1]!.toFixed(0)} ms` });
    const times: number[] = [];
    for (let i = 0; i < options.tries; i++) {
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      const page = await context.newPage();
      await page.goto(`${server.url}/projects/default/envs/production/runs/${runId}`);
      const mark = `tributary:run-rendered:${runId}`;
      await page.waitForFunction((m) => performance.getEntriesByName(m).length > 0, mark, { timeout: 60_000 });
      times.push(await page.evaluate((m) => performance.getEntriesByName(m)[0]!.startTime, mark));
      await context.close();
    }
    times.sort((a, b) => a - b);
    rows.push({ what: `open it cold: navigation to the page drawn with its data (median of ${options.tries})`, value: `${times[times.length >> 1]!.toFixed(0)} ms (min ${times[0]!.toFixed(0)}, max ${times[times.length - 1]!.toFixed(0)})` });

    // A running fan-out of `running` tasks, watched from its submission to its end.
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    await page.goto(`${server.url}/projects/default/envs/production`);
    await page.waitForSelector("table.runs, p.muted");
    const post = await fetch(new URL(RUNS, server.url), { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ target: "bench:fan_out_sleepy", arguments: [options.running, 300] }) });
    const { runId: live } = (await post.json()) as { runId: string };
    let requests = 0;
    page.on("request", (r) => void (new URL(r.url()).pathname.startsWith("/api/") && requests++));
    await page.goto(`${server.url}/projects/default/envs/production/runs/${live}`);
    // In the page (as text: this file is typed without the DOM).
    await page.evaluate(`(() => {
      window.longTasks = [];
      window.frames_ = 0;
      window.t0 = performance.now();
      new PerformanceObserver((l) => l.getEntries().forEach((e) => window.longTasks.push(e.duration))).observe({ type: "longtask", buffered: true });
      const tick = () => { window.frames_++; requestAnimationFrame(tick); };
      requestAnimationFrame(tick);
    })()`);
    const t0 = performance.now();
    await fetch(new URL(`${RUNS}/${live}/result?wait=true`, server.url));
    // The page's last refresh after the end.
    await page.waitForSelector(`h1 .status-succeeded`, { timeout: 30_000 });
    const seconds = (performance.now() - t0) / 1000;
    const seen = (await page.evaluate(`({ longTasks: window.longTasks, fps: (window.frames_ * 1000) / (performance.now() - window.t0) })`)) as { longTasks: number[]; fps: number };
    const blocking = seen.longTasks.reduce((a, d) => a + Math.max(0, d - 50), 0);
    const max = Math.max(0, ...seen.longTasks);
    rows.push({ what: `page of a running fan-out of ${options.running} tasks, watched ${seconds.toFixed(1)} s: long tasks`, value: `${seen.longTasks.length} (longest ${max.toFixed(0)} ms, blocking ${blocking.toFixed(0)} ms in all)` });
    rows.push({ what: "  frames drawn", value: `${seen.fps.toFixed(0)} per second` });
    rows.push({ what: "  API requests the page made meanwhile (the push stream included)", value: `${requests}` });
    await context.close();
  } finally {
    await browser.close();
    await agent.stop({ drainMs: 0 });
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
  return rows;
};
