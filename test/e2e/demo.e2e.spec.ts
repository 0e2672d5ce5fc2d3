/**
 * `tributary demo` (the real CLI, `npm run demo`) and Studio: the demo keeps
 * its data (by default `<tmp>/tributary-demo`, replaced at each demo; here
 * TMPDIR points at a temp directory) and prints its run's Studio address and
 * the command that serves it, and a server started on that data serves that
 * address: the run's graph in headless Chromium. `demo --serve` keeps its
 * server up at the address it prints until SIGINT, then exits 0, its data
 * kept; a taken --port is refused, saying so.
 */
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { TributaryServer } from "../../src/orchestrator/server/index.js";
import type { RunAnswer, RunsAnswer } from "../../src/protocol/api.js";
import { freePort } from "../support/ports.js";
import { useStudio } from "../support/studio-fixture.js";
import { buildStudio, STUDIO_OUT } from "../../scripts/build-studio.mjs";
import { cli, spawnCli, waitForOutput } from "./support.js";

const STUDIO_URL = /studio: (http:\/\/127\.0\.0\.1:(\d+)(\/projects\/default\/envs\/production\/runs\/([0-9A-Z]+)))/;

describe("tributary demo and Studio", () => {
  const studio = useStudio({ name: "demo-studio", shots: "demo" });
  const dirs: string[] = [];
  const temp = async () => {
    const d = await mkdtemp(join(tmpdir(), "trib-demo-"));
    dirs.push(d);
    return d;
  };
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it("keeps its data in <tmp>/tributary-demo, prints the run's Studio address and the command that serves it; a server on that data serves the run; the next demo replaces it", async () => {
    const tmp = await temp();
    const data = join(tmp, "tributary-demo");
    const first = await cli(["demo"], { TMPDIR: tmp });
    expect(first.code, first.stderr).toBe(0);
    const m = STUDIO_URL.exec(first.stdout)!;
    expect(m, first.stdout).not.toBeNull();
    const [, , port, path, runId] = m;
    expect(port).toBe("7777");
    expect(first.stdout).toContain(`served by: tributary server --data ${data}`);

    // `tributary server --data DIR` on that data (here in-process, on a free port, with a fresh build of Studio).
    const server = await TributaryServer.start({ dataDir: data, port: 0, studioDir: studio.dir, onNotice: () => {} });
    try {
      const run = (await (await fetch(`${server.url}/api${path}`)).json()) as RunAnswer;
      expect(run.run).toMatchObject({ runId, target: { repository: "orders", target: "process_orders" }, status: "succeeded" });
      const page = await studio.page(await studio.context(), []);
      await page.goto(`${server.url}${path}`);
      await expect.poll(() => page.locator(".graph [data-step]").count()).toBe(run.steps.length);
      const drawn = await page.locator(".graph [data-step]").evaluateAll((gs) => gs.map((g) => [g.getAttribute("data-step"), g.getAttribute("data-status")]).sort());
      expect(drawn).toEqual(run.steps.map((s) => [s.stepId, s.status]).sort());
      await studio.shot(page, "demo-run", { fullPage: false });
    } finally {
      await server.close();
    }

    // The next demo starts afresh: only its own run is there.
    const second = await cli(["demo"], { TMPDIR: tmp });
    expect(second.code, second.stderr).toBe(0);
    const next = STUDIO_URL.exec(second.stdout)![4];
    expect(next).not.toBe(runId);
    const again = await TributaryServer.start({ dataDir: data, port: 0, studioDir: studio.dir, onNotice: () => {} });
    try {
      const runs = (await (await fetch(`${again.url}/api/projects/default/envs/production/runs`)).json()) as RunsAnswer;
      expect(runs.map((r) => r.runId)).toEqual([next]);
    } finally {
      await again.close();
    }
  }, 60_000);

  it("--serve keeps the server up at the address it prints, until SIGINT: then exit 0, the data kept", async () => {
    const data = join(await temp(), "data");
    const port = await freePort();
    // The CLI serves the package's dist/studio/ (what npm ci builds): built here, so the page is the app whatever was there.
    const built = await buildStudio({ outDir: STUDIO_OUT });
    const script = built.find((f: string) => /^assets\/.*\.js$/.test(f));
    expect(script).toBeDefined();
    const child = spawnCli(["demo", "--serve", "--port", String(port), "--data", data]);
    const exited = new Promise<number | null>((done) => child.on("exit", (code) => done(code)));
    try {
      const [, url, shown, path, runId] = STUDIO_URL.exec(await waitForOutput(child, STUDIO_URL, 30_000))!;
      const base = new URL(url!).origin;
      expect(shown).toBe(String(port));
      const api = await fetch(`${base}/api${path}`);
      expect(api.status).toBe(200);
      expect(((await api.json()) as RunAnswer).run).toMatchObject({ runId, status: "succeeded" });
      // Studio's page at that address: the app of that build.
      const page = await fetch(url!);
      expect(page.status).toBe(200);
      expect(page.headers.get("content-type")).toMatch(/^text\/html/);
      expect(await page.text()).toContain(`<script type="module" src="/${script}"></script>`);
      child.kill("SIGINT");
      expect(await exited).toBe(0);
      expect(await readdir(data)).toContain("log");
    } finally {
      child.kill("SIGKILL");
    }
  }, 60_000);

  it("--serve on a port in use is refused, saying so and what to do", async () => {
    const taken = createServer();
    await new Promise<void>((done) => taken.listen(0, "127.0.0.1", done));
    const port = (taken.address() as { port: number }).port;
    try {
      const r = await cli(["demo", "--serve", "--port", String(port), "--data", join(await temp(), "data")]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`127.0.0.1:${port} is in use`);
      expect(r.stderr).toContain("another --port");
    } finally {
      taken.close();
    }
  });
});
