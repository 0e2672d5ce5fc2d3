/**
 * Studio live across a project and across a server restart, in headless
 * Chromium against a real server with --auth (the token in the tab) and a
 * real agent (one browser for the file): the environments tree shows an
 * environment `tributary envs create` makes, without a reload, and idle asks
 * nothing; the header's project list is the server's; the runs list keeps
 * its filters and page in the address (reload, back, a shared link) and
 * filters by time on the server; the server stopped and started again on
 * the same port and data directory, the logs page says it is reconnecting,
 * then follows on without a repeated line, and the pushed pages recover.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAgent, type Agent } from "../../src/agent/runtime.js";
import { TributaryServer } from "../../src/orchestrator/server/index.js";
import type { LogLine, ProjectRow, RunsAnswer } from "../../src/protocol/api.js";
import { useStudio } from "../support/studio-fixture.js";
import { Api, cli, FLOWS, freePort, freshProject } from "./support.js";

const ADMIN = randomBytes(24).toString("hex");
const SLOG = resolve(import.meta.dirname, "fixtures/studio-logs.ts");

describe("Studio live across a project and a server restart, in Chromium", () => {
  const studio = useStudio({ name: "studio-reconnect" });
  let context: BrowserContext;
  let server: TributaryServer;
  let agent: Agent;
  let dataDir: string;
  let port: number;
  const project = freshProject();
  const errors: string[] = [];
  let api: Api;

  const start = async () => {
    server = await TributaryServer.start({ dataDir, port, defaultProject: project, heartbeatMs: 500, onNotice: () => {}, auth: true, adminToken: ADMIN, studioDir: studio.dir });
  };
  const url = () => `http://127.0.0.1:${port}`;
  const open = async (path: string) => {
    const page = await studio.page(context, errors, 15_000);
    const requests: string[] = [];
    page.on("request", (r) => requests.push(new URL(r.url()).pathname + new URL(r.url()).search));
    await page.goto(`${url()}${path}`);
    return { page, requests };
  };
  const shot = (page: Page, name: string) => studio.shot(page, name);

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "trib-e2e-"));
    port = await freePort();
    await start();
    api = new Api(url(), project, "production", ADMIN);
    agent = await startAgent({ server: url(), project, env: "production", tags: {}, concurrency: 8, modules: [FLOWS, SLOG], token: ADMIN });
    await api.run("flows:double", [1]);
    context = await studio.context({ token: ADMIN });
  }, 60_000);

  afterAll(async () => {
    await agent?.stop({ drainMs: 0 }).catch(() => undefined);
    await server?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it("the environments tree shows an environment the CLI makes, without a reload; idle it asks nothing; the header lists the server's projects", async () => {
    const { page, requests } = await open(`/projects/${project}`);
    await page.locator('li[data-env="production"]').waitFor();
    const projects = (await api.call<ProjectRow[]>("GET", "/api/projects")).body;
    const options = await page.locator('select[name="project-pick"] option').evaluateAll((os) => os.map((o) => o.getAttribute("value")));
    expect(options).toEqual(projects.map((p) => p.name));
    expect(await page.locator('select[name="project-pick"]').inputValue()).toBe(project);
    const made = await cli(["envs", "create", "qa-live", "--server", url(), "--project", project], { TRIBUTARY_TOKEN: ADMIN });
    expect(made.code, made.stderr).toBe(0);
    await page.locator('li[data-env="qa-live"]').waitFor();
    // The header's list of environments has it too.
    await expect.poll(() => page.locator('select[name="env"] option[value="qa-live"]').count()).toBe(1);
    // Idle: nothing asked of the project's environments (the old tree polled every 5 s, the header every 10 s).
    const envsAsked = () => requests.filter((r) => r.startsWith(`/api/projects/${project}/envs`)).length;
    const idle = envsAsked();
    await page.waitForTimeout(6000);
    expect(envsAsked() - idle).toBe(0);
    expect(requests.filter((r) => r === `/api/projects/${project}/changes`)).toHaveLength(1);
    expect(errors).toEqual([]);
    await shot(page, "envs-live");
    await page.close();
  });

  it("keeps the runs list's filters and page in the address: reload, back and forward, a shared link; the time range filters on the server", async () => {
    for (let i = 0; i < 3; i++) await api.run("flows:double", [i]);
    await api.run("flows:fail_flow", []);
    const { page, requests } = await open(`/projects/${project}/envs/production`);
    const ids = () => page.locator("tr[data-run]").evaluateAll((els) => els.map((e) => e.getAttribute("data-run")));
    const all = await api.client.listRuns({ limit: 50 });
    await expect.poll(ids).toEqual(all.map((r) => r.runId));
    await page.locator('form.runs-filters select[name="status"]').selectOption("succeeded");
    await page.waitForURL(/\?status=succeeded$/);
    const succeeded = all.filter((r) => r.status === "succeeded").map((r) => r.runId);
    await expect.poll(ids).toEqual(succeeded);
    await page.reload();
    await expect.poll(ids).toEqual(succeeded);
    expect(await page.locator('form.runs-filters select[name="status"]').inputValue()).toBe("succeeded");
    await page.goBack();
    await page.waitForURL(/\/envs\/production$/);
    await expect.poll(ids).toEqual(all.map((r) => r.runId));
    expect(await page.locator('form.runs-filters select[name="status"]').inputValue()).toBe("");
    await page.goForward();
    await expect.poll(ids).toEqual(succeeded);

    // The oldest run's minute: from it, every run; to it, none (the server's answers; the fields show the times).
    const cut = new Date(all.at(-1)!.submittedAt);
    cut.setSeconds(0, 0);
    const p = (n: number) => String(n).padStart(2, "0");
    const local = `${cut.getFullYear()}-${p(cut.getMonth() + 1)}-${p(cut.getDate())}T${p(cut.getHours())}:${p(cut.getMinutes())}`;
    await page.locator('form.runs-filters select[name="status"]').selectOption("");
    await page.locator('input[name="from"]').fill(local);
    await page.waitForURL(/since=/);
    expect(new URL(page.url()).searchParams.get("since")).toBe(cut.toISOString());
    const since = (await api.client.listRuns({ limit: 50, since: cut.toISOString() })).map((r) => r.runId);
    expect(since).toEqual(all.map((r) => r.runId));
    await expect.poll(ids).toEqual(since);
    await page.locator('input[name="from"]').fill("");
    await page.locator('input[name="to"]').fill(local);
    await page.waitForURL(/until=/);
    expect(await api.client.listRuns({ limit: 50, until: cut.toISOString() })).toEqual([]);
    await expect.poll(ids).toEqual([]);
    await page.locator("text=No run matches").waitFor();
    expect(await page.locator('input[name="to"]').inputValue()).toBe(local);
    const asked = (k: string) => requests.some((r) => r.includes("/runs?") && r.includes(`${k}=${encodeURIComponent(cut.toISOString())}`));
    expect([asked("since"), asked("until")]).toEqual([true, true]);

    // A page other than the first, in a link opened elsewhere: the same rows, and "newer" goes back.
    const second = all.slice(2).map((r) => r.runId);
    const link = `/projects/${project}/envs/production?pages=${all[0]!.runId},${all[1]!.runId}`;
    const other = await open(link);
    const otherIds = () => other.page.locator("tr[data-run]").evaluateAll((els) => els.map((e) => e.getAttribute("data-run")));
    await expect.poll(otherIds).toEqual(second);
    expect(await other.page.locator(".pager .muted").textContent()).toContain("page 3");
    await other.page.locator('button[name="newer"]').click();
    await expect.poll(otherIds).toEqual(all.slice(1).map((r) => r.runId));
    expect(new URL(other.page.url()).searchParams.get("pages")).toBe(all[0]!.runId);
    expect(errors).toEqual([]);
    await other.page.close();
    await page.close();
  });

  it("a server restarted on the same port and data: the logs page reconnects and follows on without a repeated line; the pushed pages recover", async () => {
    const runId = await api.submit("slog:talk", [8, 600]);
    const logs = await open(`/projects/${project}/envs/production/runs/${runId}/logs`);
    const tree = await open(`/projects/${project}`);
    await tree.page.locator('li[data-env="production"]').waitFor();
    const runsPage = await open(`/projects/${project}/envs/production`);
    await runsPage.page.locator(`tr[data-run="${runId}"]`).waitFor();
    await expect.poll(() => logs.page.locator(".log-line").count(), { timeout: 15_000 }).toBeGreaterThanOrEqual(4);

    await server.close();
    await expect.poll(() => logs.page.locator('[data-state="reconnecting"]').count()).toBe(1);
    await tree.page.locator('[data-connection="down"]').waitFor();
    await shot(logs.page, "logs-reconnecting");
    await start();

    await logs.page.locator('[data-state="ended"]').waitFor({ timeout: 30_000 });
    const lines = (await api.call<LogLine[]>("GET", `/api/projects/${project}/envs/production/runs/${runId}/logs`)).body;
    const shown = await logs.page.locator(".log-line .msg").evaluateAll((els) => els.map((e) => e.textContent));
    expect(shown).toEqual(lines.map((l) => l.message));
    expect(lines.filter((l) => l.message === "round 7")).toHaveLength(1);

    // The tree's push is back: the header's note goes, and a new environment shows without a reload.
    await tree.page.locator('[data-connection="down"]').waitFor({ state: "detached", timeout: 20_000 });
    expect((await cli(["envs", "create", "after-restart", "--server", url(), "--project", project], { TRIBUTARY_TOKEN: ADMIN })).code).toBe(0);
    await tree.page.locator('li[data-env="after-restart"]').waitFor();
    // The environment's push is back too: a run submitted now shows in the runs list without a reload.
    await runsPage.page.locator('[data-connection="down"]').waitFor({ state: "detached", timeout: 20_000 });
    const later = await api.submit("flows:double", [99]);
    await runsPage.page.locator(`tr[data-run="${later}"]`).waitFor();
    expect(runsPage.requests.filter((r) => r.endsWith("/changes")).length).toBeGreaterThanOrEqual(2);
    await runsPage.page.close();
    const runs = (await api.call<RunsAnswer>("GET", `/api/projects/${project}/envs/production/runs`)).body;
    expect(runs.find((r) => r.runId === runId)?.status).toBe("succeeded");
    // What failed while the server was down is the point of the test; nothing else may.
    expect(errors.filter((e) => !/Failed to load resource|ERR_CONNECTION_REFUSED|network error|Failed to fetch/i.test(e))).toEqual([]);
    await logs.page.close();
    await tree.page.close();
  });
});
