/** The report of a fuzz campaign, and the helpers that fill it. */

export interface CampaignReport {
  seed: number;
  log: string;
  inputs: number;
  agentFrames: number;
  httpRequests: number;
  recordedFrames: Record<string, number>;
  seconds: number;
  /** Refusals by kind: `error:<what>`, `refused:<what>`, `http:<status>`. */
  refusals: Record<string, number>;
  /** Answers that were not refusals: `frame:<type>`, `http:2xx`. */
  accepted: Record<string, number>;
  mutations: Record<string, number>;
  health: { checks: number; maxMs: number; slow: number; slowestAfter: number };
  /** What went wrong: a crash, a stall, a 5xx, an unclear refusal, a rebuild mismatch, a corrupt commit. */
  findings: string[];
  envs: { env: string; lastSeq: number; rebuildMatches: boolean; verifyFailures: number }[];
}

export const AGENT_TYPES = ["hello", "heartbeat", "started", "succeeded", "failed", "submit", "result", "cancel", "persist", "restore", "log"] as const;
export const STACK = /\n\s+at \S|\bat [\w.<>]+ \(\/|node:internal/;
export const count = (m: Record<string, number>, k: string, n = 1) => (m[k] = (m[k] ?? 0) + n);

/** A short kind for a refusal message: its leading words, without ids or values. */
export const kindOf = (message: string): string =>
  message
    .replace(/"[^"]*"/g, "…")
    .replace(/\b[0-9A-Z]{20,}\S*/g, "…")
    .split(/[:(]/)[0]!
    .replace(/\d+/g, "N")
    .trim()
    .slice(0, 60);

