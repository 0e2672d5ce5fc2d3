import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_ARGUMENT_BYTES } from "../../src/protocol/messages.js";
import type { Agent } from "../../src/agent/runtime.js";
import { LOG_KINDS, startHarness, type Harness } from "./support.js";

const LIMITS = resolve(import.meta.dirname, "fixtures/limits.ts");
const MB = 1_000_000;

describe.each(LOG_KINDS)("limits that answer on the %s log", (kind) => {
  let h: Harness;
  let agent: Agent;
  let drops = 0;
  beforeAll(async () => {
    h = await startHarness(kind);
    agent = await h.agent({ modules: [LIMITS] });
    agent.on("disconnected", () => drops++);
  });
  afterAll(() => h?.close());

  /** The agent still runs a normal task on the connection it always had. */
  const stillWorks = async () => {
    expect((await h.api.run("limits:ping_flow")).outcome).toEqual({ status: "succeeded", value: "pong" });
    expect(drops).toBe(0);
    expect(agent.connected).toBe(true);
  };

  it.each([5 * MB, 20 * MB])("a task called with a %i-character argument gets it whole, through a blob", async (n) => {
    const { outcome, view } = await h.api.run("limits:big_argument", [n]);
    expect(outcome.status).toBe("succeeded");
    const v = (outcome as unknown as { value: { ok: boolean; got: unknown; expected: unknown } }).value;
    expect(v.ok).toBe(true);
    expect(v.got).toEqual(v.expected);
    expect((v.got as { length: number }).length).toBe(n);
    const step = view.steps.find((s) => s.target.target === "measure")!;
    expect(step.arguments).toEqual([]);
    expect(step.argumentsBlob).toMatchObject({ key: expect.stringMatching(/^sha256:[0-9a-f]{64}$/), size: expect.any(Number) });
    expect(step.argumentsBlob!.size).toBeGreaterThan(n);
    await stillWorks();
  });

  it("a workflow called with a large argument (a child run) records the blob on the run and gets it whole", async () => {
    const { outcome } = await h.api.run("limits:big_argument_run", [3 * MB]);
    expect(outcome.status).toBe("succeeded");
    const v = (outcome as unknown as { value: { got: unknown; expected: unknown } }).value;
    expect(v.got).toEqual(v.expected);
    await stillWorks();
  });

  it("identical large arguments hit the memo: one execution", async () => {
    const { outcome } = await h.api.run("limits:big_memo", [2 * MB]);
    expect(outcome).toEqual({ status: "succeeded", value: { same: true, length: 2 * MB } });
  });

  it("an argument over the limit fails at the call site, saying to use an asset, and sends nothing", async () => {
    const { outcome, view } = await h.api.run("limits:big_argument", [MAX_ARGUMENT_BYTES + 1000]);
    expect(outcome).toMatchObject({ status: "succeeded", value: { ok: false, name: "ArgumentsTooLargeError" } });
    expect((outcome as unknown as { value: { message: string } }).value.message).toMatch(/over the limit of 67108864 bytes.*asset/);
    expect(view.steps.filter((s) => s.target.target === "measure")).toHaveLength(0);
    await stillWorks();
  });

  it("a 20 MB result, over the frame limit, reaches its caller and the API through a blob the agent uploaded", async () => {
    const n = 20 * MB;
    const { outcome, view } = await h.api.run("limits:big_result_flow", [n]);
    expect(outcome).toEqual({ status: "succeeded", value: { length: n, head: "<abcdefg", tail: "habcdef>" } });
    const step = view.steps.find((s) => s.target.target === "big_result")!;
    expect(step.result).toMatchObject({ kind: "blob", blob: { size: expect.any(Number) } });
    const direct = await h.api.run("limits:big_result_run", [n]);
    expect(((direct.outcome as unknown as { value: string }).value).length).toBe(n);
    await stillWorks();
  });

  it("a log line over the frame limit is cut, with a note, and the connection stays", async () => {
    const { outcome, runId } = await h.api.run("limits:big_log", [12 * MB]);
    expect(outcome).toEqual({ status: "succeeded", value: "logged" });
    const lines = await h.api.ok<{ message: string }[]>("GET", `/runs/${runId}/logs`);
    expect(lines).toHaveLength(1);
    expect(lines[0]!.message.length).toBeLessThan(2 * MB);
    expect(lines[0]!.message).toMatch(/\[cut: the line was 12000000 characters/);
    await stillWorks();
  });

  it("a ~1 MB argument submitted over HTTP is kept as a blob, not refused with a 500", async () => {
    const big = "y".repeat(900_000);
    const { outcome, view } = await h.api.run("limits:measure_flow", [big]);
    expect(outcome).toEqual({ status: "succeeded", value: { length: 900_000, head: "yyyyyyyy", tail: "yyyyyyyy" } });
    expect(view.run.argumentsBlob).toBeDefined();
    expect(view.run.arguments).toEqual([]);
  });

  it("a commit over the limit is refused before it is logged: the call fails with the limit named", async () => {
    const { outcome } = await h.api.run("limits:big_metadata", [2 * MB]);
    expect(outcome).toMatchObject({ status: "succeeded", value: { ok: false } });
    expect((outcome as unknown as { value: { message: string } }).value.message).toMatch(/PersistAsset would record \d+ bytes, over the limit of 1000000 bytes/);
    await stillWorks();
  });

  it("a failure with a message too large to log is recorded with the message cut", async () => {
    const { outcome, view } = await h.api.run("limits:big_error_flow", [3 * MB]);
    expect(outcome).toMatchObject({ status: "failed", error: { type: "RangeError", message: expect.stringMatching(/\[cut from 3000000 characters\]$/) } });
    expect(view.run.status).toBe("failed");
    await stillWorks();
  });

  it("the log replays: a rebuild reproduces the projections, blob references included", async () => {
    const before = await h.api.ok<{ lines: string[] }>("GET", "/projections/dump");
    expect(before.lines.some((l) => l.includes('"argumentsBlob"'))).toBe(true);
    await h.api.ok("POST", "/projections/rebuild");
    const after = await h.api.ok<{ lines: string[] }>("GET", "/projections/dump");
    expect(after.lines).toEqual(before.lines);
  });
});
