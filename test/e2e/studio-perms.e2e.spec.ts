/**
 * Studio's buttons under --auth, in headless Chromium: each action a token
 * may not take is disabled, its title saying why (role and environment
 * patterns), as the server's own table says (PERMISSIONS, GRANTS); what it
 * may take works; the server stays the judge (a refused call forced through
 * still shows its 403). A read token, a submit token, an admin token.
 */
import type { BrowserContext, Page } from "playwright-core";
import { beforeAll, describe, expect, it } from "vitest";
import type { TokenRole } from "../../src/events/index.js";
import type { RouteName } from "../../src/protocol/http.js";
import { GRANTS, PERMISSIONS } from "../../src/protocol/permissions.js";
import { useStudio } from "../support/studio-fixture.js";
import { Api, FLOWS, type Harness } from "./support.js";

const ADMIN = "studio-perms-admin-token-0123456789";

/** May a token of `role` (on every environment) call `route`, by the server's table? */
const may = (role: TokenRole, route: RouteName): boolean => {
  const p = PERMISSIONS[route];
  return p === "public" || p === "any" || GRANTS[p].includes(role);
};

describe("Studio's actions disabled for a token that may not take them, in Chromium", () => {
  const studio = useStudio({ name: "studio-perms", harness: { adminToken: ADMIN } });
  let h: Harness;
  let runId: string;
  let stepId: string;
  const errors: string[] = [];
  const tokens = new Map<TokenRole, string>();
  /** One context per token: its tabs hold it as Studio's stored token before their first request. */
  const contexts = new Map<string, Promise<BrowserContext>>();

  const open = async (token: string, path: string): Promise<Page> => {
    if (!contexts.has(token)) contexts.set(token, studio.context({ token }));
    const page = await studio.page(await contexts.get(token)!, errors);
    await page.goto(`${h.server.url}${path}`);
    return page;
  };
  const base = () => `/projects/${h.api.project}/envs/production`;

  /** Whether `button` is disabled once whoami is known, and its title. */
  const state = async (page: Page, selector: string) => {
    const b = page.locator(selector);
    await b.waitFor();
    return { disabled: await b.isDisabled(), title: await b.getAttribute("title") };
  };
  const expectState = async (page: Page, selector: string, role: TokenRole, route: RouteName) => {
    const allowed = may(role, route);
    // whoami arrives after the page: wait for the button to settle on what the table says.
    await expect.poll(() => page.locator(selector).isDisabled(), { message: `${selector} for ${role}` }).toBe(!allowed);
    const s = await state(page, selector);
    if (allowed) expect(s.title ?? "").not.toMatch(/your token/);
    else {
      expect(s.title).toContain(`your token has role ${role} on *`);
      expect(s.title).toContain(GRANTS[PERMISSIONS[route] as keyof typeof GRANTS].join(" or "));
    }
  };

  beforeAll(async () => {
    h = studio.h;
    await h.agent({ modules: [FLOWS] });
    const r = await h.api.run("flows:fan_out", [1]);
    runId = r.runId;
    stepId = r.view.steps.find((s) => s.stepId !== r.view.run.rootStepId)!.stepId;
    for (const role of ["read", "submit", "admin"] as const) {
      const made = await h.api.call<{ token: string }>("POST", `/api/projects/${h.api.project}/tokens`, { role, name: `studio-${role}` });
      expect(made.status).toBe(200);
      tokens.set(role, made.body.token);
    }
  }, 60_000);

  for (const role of ["read", "submit", "admin"] as const) {
    it(`${role === "admin" ? "an" : "a"} ${role} token: submit, cancel, re-run and branch here are enabled exactly as the role table says`, async () => {
      const t = tokens.get(role)!;
      const runs = await open(t, base());
      await runs.locator("details.submit-form > summary").click();
      await expectState(runs, '.submit-form button[type="submit"]', role, "submitRun");
      await runs.close();

      const run = await open(t, `${base()}/runs/${runId}/steps/${stepId}`);
      // A finished run has nothing to cancel (disabled for every role); cancel is judged on a running one.
      await expect.poll(() => run.locator('button[name="cancel"]').getAttribute("title")).toMatch(/the run has ended|your token/);
      await expectState(run, 'button[name="rerun"]', role, "rerunStep");
      const live = await open(t, `${base()}/runs/${await h.api.submit("flows:sleep_flow", [60_000, 1])}`);
      await expectState(live, 'button[name="cancel"]', role, "cancelRun");
      await live.close();
      await studio.shot(run, `perms-${role}`);
      await run.close();

      const history = await open(t, `${base()}/runs/${runId}/history`);
      await history.locator('input[name="branch"]').fill(`br-${role}`);
      await expectState(history, ".branch-here button[type=submit]", role, "createEnv");
      if (may(role, "createEnv")) {
        await history.locator(".branch-here button[type=submit]").click();
        await expect.poll(() => history.locator(".branch-here .made").textContent()).toContain(`br-${role}`);
      }
      await history.close();
    });
  }

  it("a submit token submits from the form and opens the run", async () => {
    expect(may("submit", "submitRun")).toBe(true);
    const page = await open(tokens.get("submit")!, base());
    await page.locator("details.submit-form > summary").click();
    await page.locator('select[name="submit-target"]').selectOption("flows:double");
    await page.locator(".submit-form .params input").first().fill("4");
    await page.locator('.submit-form button[type="submit"]').click();
    await page.waitForURL(/\/runs\/[^/]+$/);
    const id = decodeURIComponent(page.url().split("/").at(-1)!);
    expect((await h.api.view(id)).run.submittedBy).toMatchObject({ kind: "token" });
    await page.close();
  });

  it("a token that covers dev-* only: production refuses it, and an action on production is disabled saying it covers dev-*, not production", async () => {
    // An environment it covers, with a run of its own.
    const made0 = await h.api.call("POST", `/api/projects/${h.api.project}/envs`, { name: "dev-perm" });
    expect(made0.status, JSON.stringify(made0.body)).toBe(200);
    await h.agent({ modules: [FLOWS], env: "dev-perm" });
    const devRun = (await h.envApi("dev-perm").run("flows:double", [2])).runId;
    const made = await h.api.call<{ token: string; tokenId: string }>("POST", `/api/projects/${h.api.project}/tokens`, { role: "admin", envs: ["dev-*"], name: "studio-dev" });
    expect(made.status).toBe(200);
    const t = made.body.token;
    // Production's own pages: the server's 403 is what is shown.
    const runs = await open(t, base());
    await expect.poll(() => runs.locator("body").textContent()).toContain(`covers dev-* of ${h.api.project}, not environment ${h.api.project}/production`);
    await runs.close();
    // In the branch it covers, branching to "production" is disabled, saying why; to a dev-* name it is not.
    const history = await open(t, `/projects/${h.api.project}/envs/dev-perm/runs/${devRun}/history`);
    const button = ".branch-here button[type=submit]";
    await history.locator('input[name="branch"]').fill("production");
    await expect.poll(() => history.locator(button).isDisabled()).toBe(true);
    expect((await state(history, button)).title).toBe("your token covers dev-*, not production");
    await history.locator('input[name="branch"]').fill("dev-ok");
    await expect.poll(() => history.locator(button).isDisabled()).toBe(false);
    await history.close();
  });

  it("the server stays the judge: a disabled cancel of a running run forced through shows its 403, and the run keeps running", async () => {
    const read = tokens.get("read")!;
    const running = await h.api.submit("flows:sleep_flow", [60_000, 1]);
    try {
      await expect.poll(async () => (await h.api.view(running)).steps.length).toBeGreaterThan(1);
      const page = await open(read, `${base()}/runs/${running}`);
      const cancel = page.locator('button[name="cancel"]');
      await expect.poll(() => cancel.isDisabled()).toBe(true);
      expect(await cancel.getAttribute("title")).toContain("your token has role read");
      const refused = await new Api(h.server.url, h.api.project, "production", read).call<{ error: string }>("POST", `/api/projects/${h.api.project}/envs/production/runs/${running}/cancel`, {});
      expect(refused.status).toBe(403);
      await cancel.evaluate((b) => {
        const button = b as unknown as { disabled: boolean; click(): void };
        button.disabled = false;
        button.click();
      });
      await expect.poll(() => page.locator(".run-actions .error").textContent()).toContain(refused.body.error);
      const after = await h.api.view(running);
      expect(after.run.status).toBe("running");
      expect(after.run.cancelledBy).toBeUndefined();
      expect(after.steps.every((st) => st.status !== "cancelled")).toBe(true);
      await page.close();
    } finally {
      // The admin may: the agent is free again for what follows.
      expect((await h.api.call("POST", `/api/projects/${h.api.project}/envs/production/runs/${running}/cancel`, {})).status).toBe(200);
    }
  });

  it("shows no console errors but the refusal the test provokes", () => {
    expect(errors.filter((e) => !/status of 403/.test(e))).toEqual([]);
  });
});
