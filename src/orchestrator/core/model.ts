/**
 * The read model the decider and the scheduler see: typed, read-only
 * look-ups over projection documents. Built over any `DocSource` (the live
 * store with its in-memory overlay, or an in-memory store in tests).
 */
import type { AgentId, AssetId, EnvName, ExecutionId, RunId, StepId } from "../../events/index.js";
import {
  getAsset,
  getBlobRef,
  getCacheEntry,
  getEnvironment,
  getExecution,
  getRun,
  listManifests,
  runForIdempotencyKey,
  stepForCall,
  stepKey,
  stepsOfRun,
  getToken,
  getCheckpoint,
  type CheckpointDoc,
  getInput,
  type InputDoc,
  type InputIndexDoc,
  type TokenDoc,
  type PoolDoc,
  getPool,
  listPools,
  listAgents,
  type AgentDoc,
  type AssetDoc,
  type BlobRefDoc,
  type CacheDoc,
  type CacheHit,
  type DeferralsDoc,
  type MemoDoc,
  type PendingDoc,
  type CallDoc,
  type DocSource,
  type EnvironmentDoc,
  type ExecutionDoc,
  type ManifestDoc,
  type RunDoc,
  type StepDoc,
} from "../../projections/index.js";

export interface Model {
  run(runId: RunId): RunDoc | undefined;
  step(runId: RunId, stepId: StepId): StepDoc | undefined;
  stepsOfRun(runId: RunId): StepDoc[];
  execution(executionId: ExecutionId): ExecutionDoc | undefined;
  manifest(repository: string): ManifestDoc | undefined;
  repositories(): string[];
  agent(agentId: AgentId): AgentDoc | undefined;
  environment(): EnvironmentDoc | undefined;
  runForKey(idempotencyKey: string): RunId | undefined;
  call(callId: string): CallDoc | undefined;
  /** The latest step of the run scheduled with this memo key. */
  memo(runId: RunId, memoKey: string): StepDoc | undefined;
  /** The step executing with this memo key anywhere in the environment. */
  pendingCall(memoKey: string): StepDoc | undefined;
  /** Steps deferred to a step, not yet resolved. */
  deferrals(runId: RunId, stepId: StepId): readonly { runId: RunId; stepId: StepId }[];
  /**
   * The newest result recorded for a cache key no older than `maxAgeMs`:
   * in this environment, else in its base (and the base's base…) or, for a
   * branched environment, in the parent as of the branch point.
   */
  cacheHit(cacheKey: string, now: number, maxAgeMs?: number): { env: EnvName; hit: CacheHit } | undefined;
  /** The execution computing a result for a cache key in this environment, if any. */
  cachePending(cacheKey: string): CacheDoc["pending"];
  /** A persisted asset, here or in an environment this one inherits from. */
  asset(assetId: AssetId): { env: EnvName; doc: AssetDoc } | undefined;
  /**
   * The first reference to a blob that this environment sees: in its own
   * log, else in an environment it inherits from (as `asset` looks).
   */
  blobRef(key: string): { env: EnvName; ref: BlobRefDoc } | undefined;
  /** A token of the server log (none in an environment's log). */
  token(tokenId: string): TokenDoc | undefined;
  /**
   * The newest value saved under a checkpoint key: in this environment,
   * else in one it inherits from (as `cacheHit` looks; saves stay local).
   */
  checkpoint(key: string): { env: EnvName; doc: CheckpointDoc } | undefined;
  /** A pool of this environment (`tributary pools create`). */
  pool(name: string): PoolDoc | undefined;
  pools(): PoolDoc[];
  /** Every agent this environment has known (connected or not). */
  agents(): AgentDoc[];
  /** An input (a prompt) of this environment. */
  input(inputId: string): InputDoc | undefined;
  /** The input a call of an execution made, if it made one. */
  inputForCall(callId: string): InputDoc | undefined;
  /**
   * The answered input of run `runId` with memo key `key`: here, else (a run
   * brought into a branch) where this environment inherits from.
   */
  answeredInput(runId: RunId, key: string): InputDoc | undefined;
}

/**
 * The projections of the environments an environment inherits from, nearest
 * first: a branch's frozen view of its parent, then its bases, live.
 */
export type Inherited = () => Iterable<{ readonly env: EnvName; readonly src: DocSource }>;

export const modelOf = (src: DocSource, inherited: Inherited = () => []): Model => ({
  run: (runId) => getRun(src, runId),
  step: (runId, stepId) => src.get<StepDoc>("steps", stepKey(runId, stepId)),
  stepsOfRun: (runId) => stepsOfRun(src, runId),
  execution: (id) => getExecution(src, id),
  manifest: (repository) => src.get<ManifestDoc>("manifests", repository),
  repositories: () => listManifests(src).map((x) => x.repository),
  agent: (agentId) => src.get<AgentDoc>("agents", agentId),
  environment: () => getEnvironment(src),
  runForKey: (key) => runForIdempotencyKey(src, key),
  call: (callId) => stepForCall(src, callId),
  memo(runId, memoKey) {
    const m = src.get<MemoDoc>("memo", `${runId}/${memoKey}`);
    return m ? src.get<StepDoc>("steps", stepKey(runId, m.stepId)) : undefined;
  },
  pendingCall(memoKey) {
    const p = src.get<PendingDoc>("pending", memoKey);
    return p ? src.get<StepDoc>("steps", stepKey(p.runId, p.stepId)) : undefined;
  },
  deferrals: (runId, stepId) => src.get<DeferralsDoc>("deferrals", stepKey(runId, stepId))?.steps ?? [],
  cacheHit(cacheKey, now, maxAgeMs) {
    const fresh = (hit: CacheHit | undefined) => hit !== undefined && (maxAgeMs === undefined || now - hit.at <= maxAgeMs);
    const own = getCacheEntry(src, cacheKey)?.hit;
    const here = getEnvironment(src)?.env;
    if (here !== undefined && fresh(own)) return { env: here, hit: own! };
    for (const { env, src: other } of inherited()) {
      const hit = getCacheEntry(other, cacheKey)?.hit;
      if (fresh(hit)) return { env, hit: hit! };
    }
    return undefined;
  },
  asset(assetId) {
    const own = getAsset(src, assetId);
    const here = getEnvironment(src)?.env;
    if (here !== undefined && own?.persisted) return { env: here, doc: own };
    for (const { env, src: other } of inherited()) {
      const doc = getAsset(other, assetId);
      if (doc?.persisted) return { env, doc };
    }
    return undefined;
  },
  blobRef(key) {
    const own = getBlobRef(src, key);
    const here = getEnvironment(src)?.env;
    if (here !== undefined && own) return { env: here, ref: own };
    for (const { env, src: other } of inherited()) {
      const ref = getBlobRef(other, key);
      if (ref) return { env, ref };
    }
    return undefined;
  },
  cachePending: (cacheKey) => getCacheEntry(src, cacheKey)?.pending,
  token: (tokenId) => getToken(src, tokenId),
  checkpoint(key) {
    const own = getCheckpoint(src, key);
    const here = getEnvironment(src)?.env;
    if (here !== undefined && own) return { env: here, doc: own };
    for (const { env, src: other } of inherited()) {
      const doc = getCheckpoint(other, key);
      if (doc) return { env, doc };
    }
    return undefined;
  },
  pool: (name) => getPool(src, name),
  pools: () => listPools(src),
  agents: () => listAgents(src),
  input: (inputId) => getInput(src, inputId),
  inputForCall(callId) {
    const i = src.get<InputIndexDoc>("input-index", `call:${callId}`);
    return i ? getInput(src, i.inputId) : undefined;
  },
  answeredInput(runId, key) {
    for (const s of [src, ...[...inherited()].map((x) => x.src)]) {
      const i = s.get<InputIndexDoc>("input-index", `key:${runId}/${key}`);
      const doc = i ? getInput(s, i.inputId) : undefined;
      if (doc?.status === "answered") return doc;
    }
    return undefined;
  },
});
