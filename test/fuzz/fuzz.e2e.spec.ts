/**
 * A short fuzz campaign (see campaign.ts; `npm run fuzz` runs long ones):
 * a real server process and agent, a few thousand mutated agent frames and
 * random HTTP requests. Nothing crashes or stalls, every refusal is clear,
 * a rebuild reproduces the live dump and the log decodes from end to end.
 */
import { describe, expect, it } from "vitest";
import { runCampaign } from "./campaign.js";
import { AGENT_TYPES } from "./report.js";

// The bound is generous: CI runs this beside the other test files on 2 cores. `npm run fuzz` uses 2 s.

describe("fuzz: a short campaign on the embedded log", () => {
  it("2,500 seeded inputs leave no finding: no crash, no stall, no 5xx, no unclear refusal, a log that rebuilds and decodes", async () => {
    const report = await runCampaign({ inputs: 2500, seed: 8, healthBoundMs: 5000 });
    expect(report.findings).toEqual([]);
    expect(report.inputs).toBe(2500);
    // The campaign did reach every kind of input and both sides of the edge.
    expect(Object.keys(report.recordedFrames).sort()).toEqual([...AGENT_TYPES].sort());
    expect(report.agentFrames).toBeGreaterThan(1000);
    expect(report.httpRequests).toBeGreaterThan(400);
    for (const kind of ["http:400", "http:404", "http:405"]) expect(report.refusals[kind], kind).toBeGreaterThan(0);
    expect(Object.keys(report.refusals).filter((k) => k.startsWith("error:invalid ")).length).toBeGreaterThan(8);
    expect(report.accepted["frame:welcome"]).toBeGreaterThan(0);
    expect(report.health.checks).toBeGreaterThan(3);
    expect(report.envs.find((e) => e.env === "production")).toMatchObject({ rebuildMatches: true, verifyFailures: 0 });
  }, 120_000);
});
