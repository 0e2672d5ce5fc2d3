/**
 * Read models over any {@link DocSource} (the LMDB store, or an in-memory
 * fold for time travel): what the CLI, the API and the scheduler ask.
 */
import type { AssetId, ExecutionId, RunId } from "../events/index.js";
import type { AssetDoc } from "./assets.js";
import type { CacheDoc } from "./cache.js";
import { checkpointsOfRun, type CheckpointDoc } from "./checkpoints.js";
import type { AgentDoc, CallDoc, EnvironmentDoc, IdempotencyDoc, ManifestDoc } from "./environment.js";
import { ENVIRONMENT_KEY } from "./environment.js";
import type { DocSource } from "./projection.js";
import type { ExecutionDoc, RunDoc, StepDoc } from "./runs.js";
import { progressOf, type ProgressDoc } from "./progress.js";

/** A run with all its steps, every execution of each, and its assets. */
export interface RunView {
  readonly run: RunDoc;
  /** In the order they were scheduled. */
  readonly steps: readonly StepDoc[];
  /** By execution id. */
  readonly executions: Readonly<Record<string, ExecutionDoc>>;
  /** By asset id. */
  readonly assets: Readonly<Record<string, AssetDoc>>;
  /** The run's checkpoints (newest value of each), in key order; each names the step that saved it last. */
  readonly checkpoints?: readonly CheckpointDoc[];
  /** By execution id: the progress and latest metrics of the executions that reported some (absent: none did). */
  readonly progress?: Readonly<Record<string, ProgressDoc>>;
}

export const getRun = (src: DocSource, runId: RunId): RunDoc | undefined => src.get<RunDoc>("runs", runId);

/** Which runs {@link listRuns} answers: older than `before` (a run id), of a status, of a target (`repository:target`), submitted at or after `since` and before `until` (epoch ms). */
export interface RunFilter {
  readonly before?: string;
  readonly status?: string;
  readonly target?: string;
  readonly since?: number;
  readonly until?: number;
}

/** Runs, newest first (run ids sort by creation time); with a filter, the first `limit` that pass it. */
export const listRuns = (src: DocSource, limit = 50, filter: RunFilter = {}): RunDoc[] => {
  const { before, status, target, since, until } = filter;
  if (before === undefined && status === undefined && target === undefined && since === undefined && until === undefined) return [...src.range<RunDoc>("runs", { reverse: true, limit })].map(([, d]) => d);
  const out: RunDoc[] = [];
  for (const [key, d] of src.range<RunDoc>("runs", { reverse: true })) {
    if (out.length >= limit) break;
    if (before !== undefined && key >= before) continue;
    if (status !== undefined && d.status !== status) continue;
    if (target !== undefined && `${d.target.repository}:${d.target.target}` !== target) continue;
    if ((since !== undefined && d.submittedAt < since) || (until !== undefined && d.submittedAt >= until)) continue;
    out.push(d);
  }
  return out;
};

export const stepsOfRun = (src: DocSource, runId: RunId): StepDoc[] =>
  [...src.range<StepDoc>("steps", { prefix: `${runId}/` })]
    .map(([, d]) => d)
    .sort((a, b) => a.scheduledSeq - b.scheduledSeq || a.scheduledAt - b.scheduledAt || cmp(a.stepId, b.stepId));

export const getExecution = (src: DocSource, id: ExecutionId): ExecutionDoc | undefined =>
  src.get<ExecutionDoc>("executions", id);

export const getRunView = (src: DocSource, runId: RunId): RunView | undefined => {
  const run = getRun(src, runId);
  if (!run) return undefined;
  const steps = stepsOfRun(src, runId);
  const executions: Record<string, ExecutionDoc> = {};
  const assets: Record<string, AssetDoc> = {};
  for (const s of steps) {
    for (const id of s.executions) {
      const x = getExecution(src, id);
      if (!x) continue;
      executions[id] = x;
      for (const a of [...x.assetsPersisted, ...x.assetsRestored]) {
        const doc = src.get<AssetDoc>("assets", a);
        if (doc) assets[a] = doc;
      }
    }
  }
  const checkpoints = checkpointsOfRun(src, runId);
  const progress = progressOf(src, Object.keys(executions));
  return {
    run,
    steps,
    executions,
    assets,
    ...(checkpoints.length > 0 ? { checkpoints } : {}),
    ...(Object.keys(progress).length > 0 ? { progress } : {}),
  };
};

export const getCacheEntry = (src: DocSource, cacheKey: string): CacheDoc | undefined =>
  src.get<CacheDoc>("cache", cacheKey);

export const getAsset = (src: DocSource, assetId: AssetId): AssetDoc | undefined => src.get<AssetDoc>("assets", assetId);

export const listAgents = (src: DocSource): AgentDoc[] => [...src.range<AgentDoc>("agents")].map(([, d]) => d);

export const listManifests = (src: DocSource): ManifestDoc[] =>
  [...src.range<ManifestDoc>("manifests")].map(([, d]) => d);

export const getEnvironment = (src: DocSource): EnvironmentDoc | undefined =>
  src.get<EnvironmentDoc>("environment", ENVIRONMENT_KEY);

export const runForIdempotencyKey = (src: DocSource, key: string): RunId | undefined =>
  src.get<IdempotencyDoc>("idempotency", key)?.runId;

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export const stepForCall = (src: DocSource, callId: string): CallDoc | undefined => src.get<CallDoc>("calls", callId);

/**
 * Steps whose result was computed from an older result of a step they
 * called: that step was re-run since, and gave its result after theirs.
 * Transitively: the callers of a stale step are stale too. Step ids.
 */
export const staleSteps = (view: RunView): string[] => {
  const producer = (s: StepDoc) => s.resultExecutionId ?? s.reusedFrom?.executionId;
  const rerun = (s: StepDoc) => {
    const latest = s.executions[s.executions.length - 1];
    return latest !== undefined && view.executions[latest]?.reason === "rerun";
  };
  const children = new Map<string, StepDoc[]>();
  for (const s of view.steps) {
    if (s.parentExecutionId === undefined) continue;
    const list = children.get(s.parentExecutionId);
    if (list) list.push(s);
    else children.set(s.parentExecutionId, [s]);
  }
  const memo = new Map<string, boolean>();
  const stale = (s: StepDoc, depth = 0): boolean => {
    const known = memo.get(s.stepId);
    if (known !== undefined) return known;
    const p = producer(s);
    const mine = s.resultSeq ?? 0;
    const result =
      depth < 1000 &&
      p !== undefined &&
      (children.get(p) ?? []).some((c) => (rerun(c) && (c.resultSeq ?? 0) > mine) || stale(c, depth + 1));
    memo.set(s.stepId, result);
    return result;
  };
  return view.steps.filter((s) => stale(s)).map((s) => s.stepId);
};
