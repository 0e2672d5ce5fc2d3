/**
 * `GET …/envs/{env}/changes` (Server-Sent Events) against a real server with
 * --auth and a real agent: a commit arrives as a message, a burst is
 * coalesced into fewer messages that still say everything that changed,
 * `?after=` and `Last-Event-ID` resume, a token without `read` on the
 * environment is refused, a revoked one cuts the stream, a stopping server
 * ends it.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChangesMessage } from "../../src/protocol/api.js";
import { openSse, type Sse } from "../support/sse.js";
import { eventually, startHarness, type Harness } from "./support.js";

const ADMIN = randomBytes(24).toString("hex");

const changesOf = (s: Sse): ChangesMessage[] => s.messages.filter((m) => m.event === "changes").map((m) => m.data as ChangesMessage);

describe("the changes stream of an environment", () => {
  let h: Harness;
  let base: string;
  const open: Sse[] = [];
  const sse = async (rest = "", token = ADMIN, headers: Record<string, string> = {}) => {
    const s = await openSse(`${base}/changes${rest}`, token, headers);
    open.push(s);
    return s;
  };
  const lastSeq = async () => (await h.api.ok<{ lastSeq: number }>("GET", "/log/verify")).lastSeq;

  beforeAll(async () => {
    h = await startHarness("embedded", { adminToken: ADMIN });
    await h.agent();
    base = `${h.server.url}/api/projects/${h.api.project}/envs/production`;
  });
  afterAll(async () => {
    for (const s of open) s.close();
    await h?.close();
  });

  it("says the log's sequence at once, then pushes each acknowledged commit: the run, its steps, its event types, id = seq", async () => {
    const s = await sse();
    const ready = await eventually(() => s.messages.find((m) => m.event === "ready"));
    expect(ready.data).toEqual({ seq: await lastSeq() });
    const { runId, view } = await h.api.run("flows:double", [4]);
    const end = await lastSeq();
    await eventually(() => changesOf(s).at(-1)?.seq === end || undefined);
    const ms = changesOf(s);
    expect(ms[0]!.from).toBe((ready.data as { seq: number }).seq + 1);
    for (const m of ms) expect(s.messages.find((x) => x.data === m)?.id).toBe(String(m.seq));
    const touched = ms.flatMap((m) => m.runs.filter((r) => r.runId === runId).flatMap((r) => r.steps));
    expect(new Set(touched)).toEqual(new Set(view.steps.map((st) => st.stepId)));
    const types = new Set(ms.flatMap((m) => m.types));
    for (const t of ["RunSubmitted", "ExecutionAssigned", "ExecutionSucceeded"]) expect(types).toContain(t);
  });

  it("coalesces a burst: fewer messages than commits, contiguous, listing every step that changed", async () => {
    const start = await lastSeq();
    const s = await sse();
    await eventually(() => s.messages.find((m) => m.event === "ready"));
    const { runId, view } = await h.api.run("flows:fan_out", [300]);
    const end = await lastSeq();
    await eventually(() => changesOf(s).at(-1)?.seq === end || undefined);
    const ms = changesOf(s);
    // Each message picks up where the one before ended: nothing is skipped or said twice.
    expect(ms[0]!.from).toBe(start + 1);
    for (let i = 1; i < ms.length; i++) expect(ms[i]!.from).toBe(ms[i - 1]!.seq + 1);
    expect(ms.length).toBeLessThan(end - start);
    expect(ms.some((m) => m.seq > m.from)).toBe(true);
    const steps = new Set(ms.flatMap((m) => m.runs.filter((r) => r.runId === runId).flatMap((r) => r.steps)));
    expect(steps.size).toBe(view.steps.length);
    expect(view.steps.length).toBe(301);
  });

  it("resumes after a sequence (?after= and Last-Event-ID): one message for what was missed, then live", async () => {
    const end = await lastSeq();
    const after = end - 5;
    for (const s of [await sse(`?after=${after}`), await sse("", ADMIN, { "last-event-id": String(after) })]) {
      const first = await eventually(() => changesOf(s)[0]);
      expect({ from: first.from, seq: first.seq }).toEqual({ from: after + 1, seq: end });
      const runId = await h.api.submit("flows:double", [5]);
      await h.api.result(runId);
      await eventually(() => changesOf(s).some((m) => m.runs.some((r) => r.runId === runId)) || undefined);
      s.close();
    }
    // Past the log's end (the client's sequence is another log's): reset, reload.
    const ahead = await sse(`?after=${(await lastSeq()) + 1000}`);
    const reset = await eventually(() => ahead.messages.find((m) => m.event === "reset"));
    expect(reset.data).toMatchObject({ seq: await lastSeq(), reason: expect.stringMatching(/reload/) });
    const bad = await sse("", ADMIN, { "last-event-id": "nope" });
    expect(bad.status).toBe(400);
  });

  it("needs read on the environment: refused without a token or with one for other environments; a revoked token cuts the stream", async () => {
    expect((await sse("", "")).status).toBe(401);
    const make = async (envs: string[]) =>
      (await h.api.call<{ token: string; tokenId: string }>("POST", `/api/projects/${h.api.project}/tokens`, { role: "read", envs })).body;
    const other = await make(["dev-*"]);
    expect((await sse("", other.token)).status).toBe(403);
    const reader = await make(["production"]);
    const s = await sse("", reader.token);
    expect(s.status).toBe(200);
    await eventually(() => s.messages.find((m) => m.event === "ready"));
    await h.api.call("POST", `/api/projects/${h.api.project}/tokens/${reader.tokenId}/revoke`, {});
    await s.ended;
    expect(s.messages.map((m) => m.event)).toContain("ready");
  });

  it("ends when the server stops", async () => {
    const s = await sse();
    await eventually(() => s.messages.find((m) => m.event === "ready"));
    const closing = h.close();
    await s.ended;
    await closing;
    h = undefined as unknown as Harness;
  });
});
