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
 *   drawn per second, and the API requests the page made.
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

export const runStudioBench = async (options: { steps: number; running: number; tries: number }): Promise<StudioRow[]> => {
  const rows: StudioRow[] = [];
  const dir = await mkdtemp(join(tmpdir(), "trib-bench-studio-"));
  const studioDir = join(dir, "studio");
  await buildStudio({ outDir: studioDir });
  const server = await TributaryServer.start({ dataDir: join(dir, "data"), port: 0, studioDir, onNotice: () => {} });
  const agent = await startAgent({ server: server.url, project: "default", env: "production", tags: {}, modules: [FLOWS], concurrency: 100 });
  const browser = await launchChromium();
  try {
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
