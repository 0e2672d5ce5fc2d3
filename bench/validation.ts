/**
 * What the checks of the edge and of the log cost: per event, the
 * pre-append validation (an adapter's checked encoding against a plain one,
 * and the runtime's check of its decisions); per frame, the agent-frame
 * schemas. Events are the simulator's (the log bench's workload).
 */
import { type Event } from "../src/events/index.js";
import { checkEvents, encodeCheckedCommit, encodeCommit } from "../src/events/codec.js";
import { checkAgentMessage } from "../src/protocol/index.js";
import { mintToken, parseToken, secretMatches } from "../src/orchestrator/auth/token.js";
import { authorize } from "../src/orchestrator/core/authorize.js";
import type { TokenDoc } from "../src/projections/tokens.js";
import type { ProjectName } from "../src/events/index.js";
import { workload } from "./log.js";

export interface ValidationRow {
  readonly what: string;
  readonly value: string;
}

const nsPer = (n: number, f: () => void, rounds = 10): number => {
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    f();
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / n);
  }
  return best;
};

export const runValidationBench = (options: { events?: number } = {}): ValidationRow[] => {
  const commits: Event[][] = workload(options.events ?? 50_000);
  const events = commits.reduce((n, c) => n + c.length, 0);
  const plain = nsPer(events, () => commits.forEach((c) => encodeCommit(c)));
  const checked = nsPer(events, () => commits.forEach((c) => encodeCheckedCommit(c)));
  const runtime = nsPer(events, () => commits.forEach((c) => checkEvents(c)));
  const frames = [
    { type: "succeeded", executionId: "01JN8A4W7X2C9H5Q3R6T8V0Y1Z-1-1", value: { rows: 1200, at: new Date(0), tags: ["a", "b"] }, requestId: 7 },
    {
      type: "submit",
      requestId: 8,
      executionId: "01JN8A4W7X2C9H5Q3R6T8V0Y1Z-1-1",
      target: { repository: "orders", target: "charge" },
      arguments: [{ orderId: "o-1", amount: 12.5 }, [1, 2, 3]],
      options: { retries: { limit: 3, delayMs: 100, factor: 2, maxDelayMs: 10_000 }, timeoutMs: 30_000 },
    },
    { type: "heartbeat", running: ["a", "b", "c"] },
  ];
  const n = 100_000;
  const frameNs = nsPer(n, () => {
    for (let i = 0; i < n; i++) checkAgentMessage(frames[i % frames.length]!);
  });
  // A request's token: parse (shape and check), find by id, compare the secret's hash, authorize.
  const minted = mintToken();
  const doc: TokenDoc = { tokenId: minted.tokenId, project: "default" as ProjectName, envs: ["dev-*"], role: "submit", hash: minted.hash, createdAt: 0 };
  const byId = new Map([[doc.tokenId, doc]]);
  const need = { permission: "submit" as const, project: "default", env: "dev-alice" };
  const tokenNs = nsPer(n, () => {
    for (let i = 0; i < n; i++) {
      const parsed = parseToken(minted.token)!;
      const found = byId.get(parsed.tokenId);
      if (!found || !secretMatches(parsed.secret, found.hash) || !authorize(found, 1, need).ok) throw new Error("the bench's token was refused");
    }
  });
  return [
    { what: `events checked (${commits.length} commits)`, value: events.toLocaleString("en-US") },
    { what: "encode a commit, per event", value: `${plain.toFixed(0)} ns` },
    { what: "encode + decode + validate (what adapters append), per event", value: `${checked.toFixed(0)} ns` },
    { what: "pre-append validation in the adapters, per event", value: `${(checked - plain).toFixed(0)} ns` },
    { what: "runtime check of a decision's events, per event", value: `${runtime.toFixed(0)} ns` },
    { what: "agent frame schema check (submit/succeeded/heartbeat), per frame", value: `${frameNs.toFixed(0)} ns` },
    { what: "token check per request (parse, hash, compare, authorize)", value: `${tokenNs.toFixed(0)} ns` },
  ];
};
