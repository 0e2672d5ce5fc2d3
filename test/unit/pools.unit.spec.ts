import { describe, expect, it } from "vitest";
import { poolAgentId, poolHosts, poolLaunches, poolsThatMayHost } from "../../src/orchestrator/core/pools.js";
import { poolOfAgent } from "../../src/events/index.js";
import type { Waiting } from "../../src/orchestrator/core/queue.js";
import type { SpecCommand as Command } from "../support/decider-spec.js";
import { envEvent, given } from "../support/decider-spec.js";

const create = (over: Partial<Extract<Command, { type: "CreatePool" }>> = {}): Command => ({
  type: "CreatePool",
  name: "gpu",
  launcher: "process",
  modules: ["/srv/train.ts"],
  max: 2,
  tags: { gpu: ["a100"] },
  ...over,
});
const created = envEvent("PoolCreated", { name: "gpu", launcher: "process", modules: ["/srv/train.ts"], max: 2, tags: { gpu: ["a100"] } });

describe("pools: CreatePool, DeletePool", () => {
  it("a new pool is recorded; the same again decides nothing; another of the name is refused", () => {
    given().when(create()).then(created);
    given([created]).when(create()).nothing();
    given([created]).when(create({ max: 3 })).rejected("PoolExists", { name: "gpu" });
  });

  it("a bad name, no modules, a relative module or a max out of range is refused, naming it", () => {
    given().when(create({ name: "GPU_1" })).rejected("InvalidName");
    given().when(create({ modules: [] })).rejected("InvalidArgument");
    given().when(create({ modules: ["train.ts"] })).rejected("InvalidArgument");
    given().when(create({ max: 0 })).rejected("InvalidArgument");
  });

  it("a pool is deleted once; an unknown one is refused; then the name is free again", () => {
    given([created]).when({ type: "DeletePool", name: "gpu" }).then(envEvent("PoolDeleted", { name: "gpu" }));
    given().when({ type: "DeletePool", name: "gpu" }).rejected("UnknownPool", { name: "gpu" });
    given([created, envEvent("PoolDeleted", { name: "gpu" })]).when(create({ max: 5 })).then(envEvent("PoolCreated", { name: "gpu", launcher: "process", modules: ["/srv/train.ts"], max: 5, tags: { gpu: ["a100"] } }));
  });
});

const waiting = (target: string, reason: Waiting["reason"], n = 1): Waiting[] =>
  Array.from({ length: n }, (_, i) => ({ executionId: `x${i}`, runId: "r", stepId: `${i}`, target, reason, message: "" }));

describe("pools: what they host, and how many agents to start", () => {
  it("a pool's agents are named after it, and what they brought is what it hosts", () => {
    const id = poolAgentId("gpu-eu", "Ab12-cd34ef56");
    expect(id).toBe("pool_gpu-eu_ab12cd34ef");
    expect(poolOfAgent(id)).toBe("gpu-eu");
    expect(poolOfAgent("agent-x1")).toBeUndefined();
    const hosts = poolHosts([
      { agentId: id, repositories: ["train"] },
      { agentId: "agent-x1", repositories: ["shop"] },
    ]);
    expect([...hosts.entries()].map(([k, v]) => [k, [...v]])).toEqual([["gpu-eu", ["train"]]]);
    const pools = [{ name: "gpu-eu" }, { name: "fresh" }];
    // A pool that hosts it, and one never started (it may).
    expect(poolsThatMayHost(pools, hosts, "train")).toEqual(["gpu-eu", "fresh"]);
    expect(poolsThatMayHost(pools, hosts, "shop")).toEqual(["fresh"]);
  });

  it("starts one agent to learn what a new pool hosts; then enough for the waiting executions, up to max", () => {
    const pool = { name: "gpu", max: 3 };
    const none = new Map<string, Set<string>>();
    const known = new Map([["gpu", new Set(["train"])]]);
    expect(poolLaunches([{ pool, alive: 0 }], none, waiting("train:fit", "no-agent-hosts-target", 40))).toEqual([{ pool: "gpu", start: 1 }]);
    expect(poolLaunches([{ pool, alive: 1 }], none, waiting("train:fit", "no-agent-hosts-target", 40))).toEqual([]);
    // 40 waiting at 16 each: 3 agents; one is up.
    expect(poolLaunches([{ pool, alive: 1 }], known, waiting("train:fit", "no-capacity", 40))).toEqual([{ pool: "gpu", start: 2 }]);
    expect(poolLaunches([{ pool, alive: 0 }], known, waiting("train:fit", "no-capacity", 400))).toEqual([{ pool: "gpu", start: 3 }]);
    // Nothing waits for it: another repository, a backoff, an assignable one.
    expect(poolLaunches([{ pool, alive: 0 }], known, waiting("shop:buy", "no-agent-hosts-target", 5))).toEqual([]);
    expect(poolLaunches([{ pool, alive: 0 }], known, [...waiting("train:fit", "backoff"), ...waiting("train:fit", "assignable")])).toEqual([]);
  });
});
