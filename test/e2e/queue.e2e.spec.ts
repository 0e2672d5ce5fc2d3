/**
 * Submitting before an agent is there: a run of a target no agent has ever
 * registered is refused, naming the target and saying how to proceed;
 * with `queue` (API) / `--queue` (CLI) it is accepted and waits until an
 * agent hosting it connects. A registered manifest is enough without it:
 * the target's agent went away and will be back. On both logs.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli, eventually, LOG_KINDS, startHarness, type Harness } from "./support.js";

describe.each(LOG_KINDS)("submitting before an agent is there, on the %s log", (kind) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(kind);
  });
  afterAll(() => h.close());
  const runs = () => `/api/projects/${h.api.project}/envs/production/runs`;
  const common = () => ["--server", h.server.url, "--project", h.api.project];

  it("refuses a run of a target nobody registered, naming it and saying how to proceed; nothing is recorded", async () => {
    const r = await h.api.call<{ error: string }>("POST", runs(), { target: "flows:fan_out", arguments: [3] });
    expect(r.status).toBe(400);
    expect(r.body.error).toBe(
      'unknown target flows:fan_out: no connected agent has registered it; start an agent that hosts it, or check the name; ' +
        'or submit it with --queue (API: "queue": true) to accept the run now: it waits until an agent hosting flows connects',
    );
    const c = await cli(["submit", "flows:fan_out", "--arg", "3", ...common()]);
    expect(c.code).toBe(1);
    expect(c.stderr).toMatch(/unknown target flows:fan_out: .*submit it with --queue/);
    expect(await h.api.ok<unknown[]>("GET", "/runs")).toEqual([]);
    // `queue` must be a boolean: the edge names the field.
    const bad = await h.api.call<{ error: string }>("POST", runs(), { target: "flows:fan_out", queue: "yes" });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/queue/);
  });

  it("with queue (API) and --queue (CLI) the runs are accepted, wait, and run once an agent hosting them connects", async () => {
    const api = await h.api.call<{ runId: string; created: boolean; warning?: string }>("POST", runs(), { target: "flows:fan_out", arguments: [3], queue: true });
    expect(api.status).toBe(200);
    expect(api.body.warning).toMatch(/^no connected agent hosts flows:fan_out now: it waits until one connects/);
    const c = await cli(["submit", "flows:fan_out", "--arg", "4", "--queue", ...common()]);
    expect(c.code, c.stderr).toBe(0);
    expect(c.stderr).toMatch(/warning: no connected agent hosts flows:fan_out now/);
    const fromCli = c.stdout.trim();
    const client = await h.api.client.submit("flows:fan_out", [2], { queue: true });
    for (const runId of [api.body.runId, fromCli, client.runId]) {
      const view = await h.api.view(runId);
      expect(view.run.status).toBe("running");
      expect(Object.values(view.executions).map((x) => x.status)).toEqual(["queued"]);
      expect(view.steps[0]).toMatchObject({ kind: "workflow", status: "pending" });
    }
    const agent = await h.agent();
    expect(await h.api.result(api.body.runId)).toEqual({ status: "succeeded", value: 6 });
    expect(await h.api.result(fromCli)).toEqual({ status: "succeeded", value: 10 });
    expect(await h.api.result(client.runId)).toEqual({ status: "succeeded", value: 3 });
    // Its agent gone, the target's manifest stays registered: a run is accepted without --queue, with a warning, and waits.
    await agent.stop({ drainMs: 0 });
    await eventually(async () => (await h.api.ok<{ connected: unknown[] }>("GET", "/agents")).connected.length === 0);
    const later = await h.api.call<{ runId: string; warning?: string }>("POST", runs(), { target: "flows:fan_out", arguments: [1] });
    expect(later.status).toBe(200);
    expect(later.body.warning).toMatch(/no connected agent hosts flows:fan_out now/);
    await h.agent();
    expect(await h.api.result(later.body.runId)).toEqual({ status: "succeeded", value: 1 });
  });
});
