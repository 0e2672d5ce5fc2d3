/**
 * The runtime checks a decision's events with the decoder's validation
 * before folding them: a command carrying a value that would not decode is
 * a rejection (InvalidEvent, HTTP 400), nothing is appended, and the runtime
 * never goes through its reload.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { logRef, type AgentId } from "../../src/events/index.js";
import { EmbeddedEventLog } from "../../src/events/storage/index.js";
import { EnvRuntime } from "../../src/orchestrator/runtime.js";
import { rejectionMessage, rejectionStatus } from "../../src/orchestrator/core/rejections.js";

describe("the runtime's check of its decisions", () => {
  it("a command whose events would not decode is rejected with InvalidEvent before anything is folded or appended", async () => {
    const dir = await mkdtemp(join(tmpdir(), "trib-rt-"));
    const notices: string[] = [];
    const log = new EmbeddedEventLog({ dir: join(dir, "log") });
    const ref = logRef("p", "production");
    const rt = new EnvRuntime({ log, ref, storePath: join(dir, "store"), onNotice: (m) => notices.push(m) });
    try {
      await rt.start();
      const before = await log.lastSeq(ref);
      const poison = {
        type: "ConnectAgent" as const,
        agentId: "agent-1" as AgentId,
        tags: {},
        concurrency: 1,
        manifests: [{ repository: "r", targets: [{ name: "t", kind: "task" as const, parameters: [], options: { timeoutMs: "soon" as unknown as number } }] }],
      };
      const r = await rt.execute(poison);
      expect(r.ok).toBe(false);
      if (r.ok) return;
      expect(r.rejection).toMatchObject({ _tag: "InvalidEvent", eventType: "ManifestRegistered" });
      expect(rejectionMessage(r.rejection)).toMatch(/invalid ManifestRegistered event: targets\[0\]\.options\.timeoutMs must be a whole number >= 0/);
      expect(rejectionStatus(r.rejection)).toBe(400);
      expect(await log.lastSeq(ref)).toBe(before);
      expect(rt.model.manifest("r")).toBeUndefined();
      expect(notices.filter((n) => /reloading/.test(n))).toEqual([]);
      // The runtime carries on at the next sequence.
      const ok = await rt.execute({ ...poison, manifests: [{ repository: "r", targets: [{ ...poison.manifests[0]!.targets[0]!, options: { timeoutMs: 5 } }] }] });
      expect(ok).toMatchObject({ ok: true, seq: before + 1 });
    } finally {
      await rt.close();
      await log.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
