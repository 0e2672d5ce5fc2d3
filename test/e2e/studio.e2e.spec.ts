/**
 * Studio in a real browser: headless Chromium (Debian's, through
 * playwright-core; test/support/browser.ts fails loudly without it) against
 * a real server, with a real agent running the fixture workflows. Studio is
 * built for the test into a temp directory (so a concurrent `npm run build`
 * cannot pull dist/studio/ from under it). One browser for the file;
 * screenshots of each view go to .scratch/studio/.
 */
import { request } from "node:http";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TributaryServer } from "../../src/orchestrator/server/index.js";
import type { AssetAnswer, RunAnswer } from "../../src/protocol/api.js";
import { chromiumPath } from "../support/browser.js";
import { forStudio } from "../../src/studio/messages.js";
import { useStudio } from "../support/studio-fixture.js";
import { FLOWS, freshProject, startHarness, type Harness } from "./support.js";

const FILES = resolve(import.meta.dirname, "fixtures/files.ts");

/** A request as written (no client-side normalisation of `..`): status, headers, body. */
const raw = (url: string, path: string, method = "GET"): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> =>
  new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = request({ host: u.hostname, port: u.port, path, method }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end();
  });

/** A page whose console errors and uncaught exceptions are kept; `allowed` are the expected ones (a refused fetch logs one). */
const watched = async (context: BrowserContext) => {
  const errors: string[] = [];
  const page = await studio.page(context, errors);
  return { page, errors, unexpected: (allowed?: RegExp) => errors.filter((e) => !(allowed && allowed.test(e))) };
};

/** Studio built, and the one browser of the file, started by the first describe that needs it. */
const studio = useStudio();
const shot = (page: Page, name: string) => studio.shot(page, name);

let browser: Browser;
const startBrowser = async (): Promise<void> => {
  browser = await studio.browser();
};
const dirs: string[] = [];

afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

// Without Chromium this fails, saying how to install it (and every test that needs the browser fails with it).
it("has Chromium to drive", () => {
  expect(chromiumPath()).toMatch(/chrom/i);
});

describe("Studio, served by the server, in Chromium", () => {
  let h: Harness;
  let context: BrowserContext;
  const runs: Record<string, string> = {};
  const views: Record<string, RunAnswer> = {};
  let branchSeq = 0;

  beforeAll(async () => {
    await startBrowser();
    h = await startHarness("embedded", { server: { studioDir: studio.dir } });
    await h.agent({ modules: [FLOWS, FILES] });
    for (const [name, target, args] of [
      ["fan", "flows:fan_out", [3]],
      ["flaky", "flows:flaky_flow", [1]],
      ["caught", "flows:catch_flow", []],
      ["failed", "flows:fail_flow", []],
      ["files", "files:files_flow", ["ui"]],
    ] as const) {
      const { runId } = await h.api.run(target, [...args]);
      runs[name] = runId;
      views[name] = await h.api.ok<RunAnswer>("GET", `/runs/${runId}`);
    }
    const dev = await h.api.call<{ branchedFrom?: { at: number } }>("POST", `/api/projects/${h.api.project}/envs`, { name: "dev", from: "production" });
    expect(dev.status).toBe(200);
    branchSeq = dev.body.branchedFrom!.at;
    expect((await h.api.call("POST", `/api/projects/${h.api.project}/envs`, { name: "old" })).status).toBe(200);
    expect((await h.envApi("old").call("POST", `/api/projects/${h.api.project}/envs/old/archive`)).status).toBe(200);
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  }, 60_000);

  afterAll(async () => {
    await context?.close();
    await h?.close();
  });

  it("opens at /, on the server's project: its environments as a tree, a branch under its parent at its branch point, the archived one marked", async () => {
    const { page, unexpected } = await watched(context);
    await page.goto(`${h.server.url}/`);
    await page.waitForURL(`**/projects/${h.api.project}`);
    const prod = page.locator(`li[data-env="production"]`);
    await prod.waitFor();
    await expect.poll(() => prod.locator(`li[data-env="dev"]`).count()).toBe(1);
    const envs = await h.api.call<{ name: string; lastSeq: number }[]>("GET", `/api/projects/${h.api.project}/envs`);
    const prodSeq = envs.body.find((e) => e.name === "production")!.lastSeq;
    expect(await prod.locator(":scope > .env").textContent()).toContain(`log to seq ${prodSeq}`);
    expect(await page.locator(`li[data-env="dev"] > .env`).textContent()).toContain(`branch of production at seq ${branchSeq}`);
    expect(await page.locator(`li[data-env="old"] > .env`).textContent()).toContain("archived");
    expect(await page.locator(`li[data-env="old"] > .env`).getAttribute("class")).toContain("archived");
    await shot(page, "environments");
    expect(unexpected()).toEqual([]);
    await page.close();
  });

  it("lists an environment's runs newest first with their statuses, and a run submitted meanwhile appears without a reload", async () => {
    const { page, unexpected } = await watched(context);
    await page.goto(`${h.server.url}/projects/${h.api.project}`);
    await page.locator(`li[data-env="production"] > .env > a`).click();
    await page.waitForURL(`**/projects/${h.api.project}/envs/production`);
    await expect.poll(() => page.locator("tr[data-run]").count()).toBe(5);
    const listed = await page.locator("tr[data-run]").evaluateAll((rows) => rows.map((r) => [r.getAttribute("data-run"), r.querySelector(".status")?.textContent]));
    const api = await h.api.ok<{ runId: string; status: string }[]>("GET", "/runs");
    expect(listed).toEqual(api.map((r) => [r.runId, r.status]));
    expect(listed.map(([id]) => id)).toEqual([runs["files"], runs["failed"], runs["caught"], runs["flaky"], runs["fan"]]);
    await shot(page, "runs");
    const { runId } = await h.api.run("flows:double", [4]);
    await page.locator(`tr[data-run="${runId}"]`).waitFor({ timeout: 10_000 });
    expect(await page.locator("tr[data-run]").first().getAttribute("data-run")).toBe(runId);
    expect(unexpected()).toEqual([]);
    await page.close();
  });

  it("a run's page shows every step in the graph with its status and attempts; clicking a step shows its result, its error, its executions", async () => {
    const { page, unexpected } = await watched(context);
    await page.goto(`${h.server.url}/projects/${h.api.project}/envs/production`);
    await page.locator(`tr[data-run="${runs["flaky"]}"] a`).click();
    await page.locator(".graph [data-step]").first().waitFor();
    for (const name of ["flaky", "fan", "caught", "failed"]) {
      const view = views[name]!;
      if (name !== "flaky") await page.goto(`${h.server.url}/projects/${h.api.project}/envs/production/runs/${view.run.runId}`);
      await page.locator(".graph [data-step]").first().waitFor();
      const nodes = await page.locator(".graph [data-step]").evaluateAll((gs) => gs.map((g) => [g.getAttribute("data-step"), g.getAttribute("data-status"), g.getAttribute("aria-label")]));
      expect(nodes.map(([id, status]) => [id, status]).sort()).toEqual(view.steps.map((s) => [s.stepId, s.status]).sort());
      for (const s of view.steps) expect(nodes.find(([id]) => id === s.stepId)![2]).toContain(`${s.executions.length} attempt(s)`);
      expect(await page.locator(".graph path.edge-call").count()).toBe(view.steps.length - 1);
      const timeline = await page.locator(".timeline [data-execution]").evaluateAll((gs) => gs.map((g) => g.getAttribute("data-execution")));
      expect(timeline.sort()).toEqual(Object.keys(view.executions).sort());
      if (name === "flaky") await shot(page, "run");
    }
    // catch_flow: its root step succeeded with what it caught; the task it called failed.
    const caught = views["caught"]!;
    const root = caught.steps.find((s) => s.stepId === caught.run.rootStepId)!;
    const failing = caught.steps.find((s) => s.stepId !== root.stepId)!;
    await page.goto(`${h.server.url}/projects/${h.api.project}/envs/production/runs/${caught.run.runId}`);
    await page.locator(`.graph [data-step="${root.stepId}"]`).click();
    await page.waitForURL(`**/runs/${caught.run.runId}/steps/${root.stepId}`);
    const result = await page.locator(".details .result pre").textContent();
    expect(root.result?.kind).toBe("inline");
    expect(JSON.parse(result!)).toEqual(root.result!.kind === "inline" ? root.result!.value : undefined);
    await page.locator(`.graph [data-step="${failing.stepId}"]`).focus();
    await page.keyboard.press("Enter");
    await page.waitForURL(`**/steps/${failing.stepId}`);
    const details = page.locator(".details");
    await expect.poll(() => details.locator(".err").first().textContent()).toContain(`${failing.error!.type}: ${failing.error!.message}`);
    expect(await details.locator("tr[data-execution]").count()).toBe(failing.executions.length);
    // flaky_flow: the retried step lists both attempts.
    const flaky = views["flaky"]!;
    const retried = flaky.steps.find((s) => s.executions.length > 1)!;
    await page.goto(`${h.server.url}/projects/${h.api.project}/envs/production/runs/${flaky.run.runId}`);
    await page.locator(`.graph [data-step="${retried.stepId}"]`).click();
    const rows = await page.locator(".details tr[data-execution]").evaluateAll((trs) => trs.map((tr) => [tr.getAttribute("data-execution"), tr.querySelector(".status")?.textContent]));
    expect(rows).toEqual(retried.executions.map((id) => [id, flaky.executions[id]!.status]));
    await shot(page, "step");
    expect(unexpected()).toEqual([]);
    await page.close();
  });

  it("a deep link to a step (and to one of its executions) loads directly; an unknown run is a page that says so", async () => {
    const { page, unexpected } = await watched(context);
    const flaky = views["flaky"]!;
    const step = flaky.steps.find((s) => s.executions.length > 1)!;
    const first = step.executions[0]!;
    await page.goto(`${h.server.url}/projects/${h.api.project}/envs/production/runs/${flaky.run.runId}/steps/${step.stepId}/executions/${first}`);
    await page.locator(`.details [data-step="${step.stepId}"]`).waitFor();
    expect(await page.locator(`.graph [data-step="${step.stepId}"]`).getAttribute("class")).toContain("selected");
    expect(await page.locator(`tr[data-execution="${first}"]`).getAttribute("class")).toBe("selected");
    expect(await page.title()).toContain(flaky.run.runId);
    // An execution the step does not have says so, as an unknown step does.
    await page.goto(`${h.server.url}/projects/${h.api.project}/envs/production/runs/${flaky.run.runId}/steps/${step.stepId}/executions/bogus`);
    await expect.poll(() => page.locator(".details .error").textContent()).toContain(`step ${step.stepId} has no execution bogus`);
    await page.goto(`${h.server.url}/projects/${h.api.project}/envs/production/runs/01NOSUCHRUN0000000000000000`);
    const missing = await h.api.call<{ error: string }>("GET", `/api/projects/${h.api.project}/envs/production/runs/01NOSUCHRUN0000000000000000`);
    expect(missing.status).toBe(404);
    // The server's message, without its advice for the CLI.
    expect(missing.body.error).toContain("'tributary runs ls'");
    await expect.poll(() => page.locator(".error").textContent()).toContain(forStudio(missing.body.error));
    expect(await page.locator(".error").textContent()).not.toContain("tributary");
    expect(await page.locator(".error").textContent()).toContain("not found");
    expect(unexpected(/Failed to load resource: .* 404/)).toEqual([]);
    await page.close();
  });

  it("an asset persisted by a step has a page, linked from the step: its files with sizes and hashes, each downloadable", async () => {
    const { page, unexpected } = await watched(context);
    const files = views["files"]!;
    const producer = files.steps.find((s) => s.target.target === "produce")!;
    const assetId = files.executions[producer.executions[0]!]!.assetsPersisted[0]!;
    const asset = await h.api.ok<AssetAnswer>("GET", `/assets/${assetId}`);
    await page.goto(`${h.server.url}/projects/${h.api.project}/envs/production/runs/${files.run.runId}`);
    await page.locator(`.graph [data-step="${producer.stepId}"]`).click();
    await page.locator(".details a", { hasText: asset.persisted!.name! }).click();
    await page.waitForURL(`**/projects/${h.api.project}/envs/production/assets/${assetId}`);
    await page.locator("tr[data-path]").first().waitFor();
    const rows = await page.locator("tr[data-path]").evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll("td")].slice(0, 3).map((td) => td.textContent)));
    expect(rows).toEqual(asset.persisted!.entries.map((e) => [e.path, String(e.size), e.sha256]));
    const text = asset.persisted!.entries.find((e) => e.path.endsWith("a.txt"))!;
    const [download] = await Promise.all([page.waitForEvent("download"), page.locator(`tr[data-path="${text.path}"] button`, { hasText: "download" }).click()]);
    expect(await readFile((await download.path())!, "utf8")).toBe("hello ui");
    await shot(page, "asset");
    expect(unexpected()).toEqual([]);
    await page.close();
  });

  it("serves its files with their types and caching, answers index.html for every other path, and refuses paths that could step out", async () => {
    const url = h.server.url;
    const index = await raw(url, "/");
    expect(index.status).toBe(200);
    expect(index.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(index.headers["cache-control"]).toBe("no-cache");
    expect(index.headers["content-security-policy"]).toContain("default-src 'self'");
    expect(index.body).toContain(`<meta name="tributary-project" content="${h.api.project}">`);
    const files = await readdir(join(studio.dir, "assets"));
    for (const f of files) {
      const r = await raw(url, `/assets/${f}`);
      expect(r.status, f).toBe(200);
      expect(r.headers["content-type"]).toBe(f.endsWith(".js") ? "text/javascript; charset=utf-8" : "text/css; charset=utf-8");
      expect(r.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
      expect((await raw(url, `/assets/${f}`, "HEAD")).body).toBe("");
    }
    for (const deep of ["/projects/p/envs/e/runs/r/steps/s", "/projects/p/envs/e/assets/a", "//etc/passwd", "/anything?x=1"]) {
      const r = await raw(url, deep);
      expect([deep, r.status, r.headers["content-type"]]).toEqual([deep, 200, "text/html; charset=utf-8"]);
      expect(r.body).toBe(index.body);
    }
    for (const bad of [
      "/../../../../etc/passwd",
      "/assets/../../package.json",
      "/%2e%2e/%2e%2e/etc/passwd",
      "/assets/%2E%2E/%2E%2E/package.json",
      "/assets/%2e%2e%2f%2e%2e%2fpackage.json",
      "/assets/%2Fetc%2Fpasswd",
      "/assets/..%5c..%5cpackage.json",
      "/assets/index.html%00.js",
      "/api/../../package.json",
      "/assets/./index.html",
    ]) {
      const r = await raw(url, bad);
      expect([bad, r.status]).toEqual([bad, 400]);
      expect(JSON.parse(r.body).error).toMatch(/is refused|percent-encoding/);
    }
    for (const missing of ["/assets/", "/assets/nope.js", "/assets//etc/passwd", "/assets/../index.html".replace("..", "%252e%252e")]) {
      expect([missing, (await raw(url, missing)).status]).toEqual([missing, 404]);
    }
    const agent = await raw(url, "/agent");
    expect([agent.status, JSON.parse(agent.body).error]).toEqual([426, expect.stringMatching(/WebSocket endpoint/)]);
    const post = await raw(url, "/", "POST");
    expect([post.status, post.headers["allow"]]).toEqual([405, "GET, HEAD"]);
    // The API is still the API.
    expect((await raw(url, "/api/nope")).status).toBe(404);
  });
});

describe("Studio without a build", () => {
  it("answers / with 503 saying how to build it; the API works", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "trib-studio-nobuild-"));
    dirs.push(dataDir);
    const server = await TributaryServer.start({ dataDir, port: 0, studioDir: join(dataDir, "no-studio-here"), onNotice: () => {} });
    try {
      const r = await raw(server.url, "/projects/default");
      expect(r.status).toBe(503);
      expect(r.headers["content-type"]).toBe("text/plain; charset=utf-8");
      expect(r.body).toContain("npm run build");
      expect((await raw(server.url, "/assets/app.js")).status).toBe(404);
      expect((await raw(server.url, "/api/health")).status).toBe(200);
    } finally {
      await server.close();
    }
  });
});

describe("Studio with --auth", () => {
  const admin = "studio-admin-token-0123456789abcdef";
  let server: TributaryServer;
  const project = freshProject();

  beforeAll(async () => {
    await startBrowser();
    const dataDir = await mkdtemp(join(tmpdir(), "trib-studio-auth-"));
    dirs.push(dataDir);
    server = await TributaryServer.start({ dataDir, port: 0, defaultProject: project, auth: true, adminToken: admin, studioDir: studio.dir, onNotice: () => {} });
  });
  afterAll(() => server?.close());

  const apiAs = async (token: string | undefined, method: string, path: string, body?: unknown) => {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { "content-type": "application/json" } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };

  it("serves its files without a credential, asks for a token, says why one is refused, then works with a good one; a token's limits show as the server's message", async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const { page, unexpected } = await watched(context);
    try {
      expect((await raw(server.url, "/")).status).toBe(200);
      await page.goto(`${server.url}/`);
      const form = page.locator("form.token");
      await form.waitFor();
      const none = await apiAs(undefined, "GET", "/api/whoami");
      expect(none.status).toBe(401);
      // The server's reason, with Studio's advice for the CLI's (--token, TRIBUTARY_TOKEN).
      expect(none.json["error"]).toContain("--token");
      expect(await form.textContent()).toContain(forStudio(String(none.json["error"])));
      expect(await form.textContent()).not.toContain("--token");
      await shot(page, "token");

      await form.locator("input[name=token]").fill("not-a-real-token-of-this-server-xyz");
      await form.locator("button[type=submit]").click();
      const wrong = await apiAs("not-a-real-token-of-this-server-xyz", "GET", "/api/whoami");
      expect(wrong.status).toBe(401);
      await expect.poll(() => form.textContent()).toContain(`The token given was refused: ${forStudio(String(wrong.json["error"]))}`);

      await form.locator("input[name=token]").fill(admin);
      await form.locator("button[type=submit]").click();
      await page.locator(`li[data-env="production"]`).waitFor();
      expect(await form.count()).toBe(0);
      expect(await page.evaluate("sessionStorage.getItem('tributary.token')")).toBe(admin);

      // A read token of this project: another project is refused with the server's 403 message.
      const made = await apiAs(admin, "POST", `/api/projects/${project}/tokens`, { role: "read", name: "studio" });
      expect(made.status).toBe(200);
      const read = made.json["token"] as string;
      await page.locator("button", { hasText: "forget token" }).click();
      await form.waitFor();
      await form.locator("input[name=token]").fill(read);
      await form.locator("button[type=submit]").click();
      await page.locator(`li[data-env="production"]`).waitFor();
      const other = freshProject();
      const refused = await apiAs(read, "GET", `/api/projects/${other}/envs`);
      expect(refused.status).toBe(403);
      await page.locator("input[name=project]").fill(other);
      await page.locator("input[name=project]").press("Enter");
      await page.waitForURL(`**/projects/${other}`);
      await expect.poll(() => page.locator("main .error").first().textContent()).toContain(forStudio(String(refused.json["error"])));
      expect(await page.locator("main .error").first().textContent()).toContain("not allowed");
      expect(unexpected(/Failed to load resource: .* (401|403)/)).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
