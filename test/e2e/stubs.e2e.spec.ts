/**
 * Stubs: two agents host two repositories; `shop` calls `payments` through
 * stubs typed by `import type` only — a task (a step of the caller's run,
 * executed by the payments agent) and a workflow (a child run) — and a stub
 * of a target no agent registered is refused, naming it. On both logs.
 */
import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOG_KINDS, startHarness, type Harness } from "./support.js";

const PAYMENTS = resolve(import.meta.dirname, "fixtures/payments.ts");
const SHOP = resolve(import.meta.dirname, "fixtures/shop.ts");

describe.each(LOG_KINDS)("stubs on the %s log", (kind) => {
  let h: Harness;
  let payments: string;
  let shop: string;
  beforeAll(async () => {
    h = await startHarness(kind);
    payments = (await h.agent({ modules: [PAYMENTS] })).agentId;
    shop = (await h.agent({ modules: [SHOP] })).agentId;
  });
  afterAll(() => h.close());

  it("each agent registers its own repository: a module's stubs are not its targets", async () => {
    const agents = await h.api.ok<{ known: { agentId: string; repositories: string[] }[]; manifests: { repository: string; targets: { name: string }[] }[] }>("GET", "/agents");
    expect(agents.known.find((a) => a.agentId === shop)?.repositories).toEqual(["shop"]);
    expect(agents.manifests.find((m) => m.repository === "shop")?.targets.map((t) => t.name).sort()).toEqual(["checkout", "misuse"]);
    // A shop run can call a shop target only if the shop registered it: `charge` (a stub it exports) is not one.
    const refused = await h.api.call<{ error: string }>("POST", `/api/projects/${h.api.project}/envs/production/runs`, { target: "shop:charge", arguments: [1, 1] });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatch(/^unknown target shop:charge: .*\(known: shop:checkout, shop:misuse\)/);
  });

  it("a shop workflow calls a payments task and a payments workflow through stubs, run by the payments agent", async () => {
    const { runId, outcome, view } = await h.api.run("shop:checkout", [[1, 2, 3]]);
    expect(outcome).toEqual({ status: "succeeded", value: { total: 600, by: ["payments", "payments", "payments"], refunded: 3 } });
    const charges = view.steps.filter((s) => s.target.repository === "payments" && s.target.target === "charge");
    expect(charges).toHaveLength(3);
    for (const s of charges) {
      expect(s.kind).toBe("task");
      expect(view.executions[s.executions[0]!]!.agentId).toBe(payments);
    }
    expect(view.executions[view.steps.find((s) => s.stepId === view.run.rootStepId)!.executions[0]!]!.agentId).toBe(shop);
    // The workflow stub started a child run of payments:refund_all, linked to the caller.
    const runs = await h.api.ok<{ runId: string; target: { repository: string; target: string }; parent?: { runId: string } }[]>("GET", "/runs");
    const child = runs.find((r) => r.target.target === "refund_all");
    expect(child?.parent?.runId).toBe(runId);
  });

  it("a stub of a target no agent registered is refused at the call, naming it and what is known", async () => {
    const { outcome } = await h.api.run("shop:misuse");
    expect(outcome.status).toBe("succeeded");
    const v = (outcome as unknown as { value: Record<string, string> }).value;
    expect(v["missing"]).toMatch(/^unknown target payments:nope: no connected agent has registered it \(known: .*payments:charge/);
    expect(v["nowhere"]).toMatch(/^unknown target billing:invoice: no connected agent has registered it/);
    expect(v["arity"]).toMatch(/^payments:charge takes 2 arguments \(order, cents\), got 1/);
  });
});
