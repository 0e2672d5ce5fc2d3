/**
 * Assets, keyed by asset id: what was persisted (entries with sizes and
 * hashes) and every restore of it. An asset restored here but persisted in
 * another environment has restores and no `persisted`. Pure.
 */
import type { AssetEntry, AssetId, EnvName, ExecutionId, RunId, StepId, Value } from "../events/index.js";
import type { Projection } from "./projection.js";

export interface AssetRestore {
  readonly runId: RunId;
  readonly stepId: StepId;
  readonly executionId: ExecutionId;
  readonly at: number;
  readonly seq: number;
  readonly fromEnv?: EnvName;
  readonly to?: string;
}

export interface AssetDoc {
  readonly assetId: AssetId;
  readonly persisted?: {
    readonly runId: RunId;
    readonly stepId: StepId;
    readonly executionId: ExecutionId;
    readonly name?: string;
    readonly metadata?: { readonly [key: string]: Value };
    readonly entries: readonly AssetEntry[];
    /** Sum of the entries' sizes, in bytes. */
    readonly totalSize: number;
    readonly at: number;
    readonly seq: number;
  };
  readonly restores: readonly AssetRestore[];
}

export const assetsProjection: Projection<AssetDoc> = {
  name: "assets",
  version: 1,
  keysOf: (e) => (e.type === "AssetPersisted" || e.type === "AssetRestored" ? [e.data.assetId] : []),
  evolve(doc, e, _key, ctx) {
    if (e.type === "AssetPersisted") {
      const d = e.data;
      return {
        assetId: d.assetId,
        persisted: {
          runId: e.runId,
          stepId: d.stepId,
          executionId: d.executionId,
          ...(d.name === undefined ? {} : { name: d.name }),
          ...(d.metadata === undefined ? {} : { metadata: d.metadata }),
          entries: d.entries,
          totalSize: d.entries.reduce((n, x) => n + x.size, 0),
          at: e.at,
          seq: ctx.seq,
        },
        restores: doc?.restores ?? [],
      };
    }
    if (e.type === "AssetRestored") {
      const d = e.data;
      const restore: AssetRestore = {
        runId: e.runId,
        stepId: d.stepId,
        executionId: d.executionId,
        at: e.at,
        seq: ctx.seq,
        ...(d.fromEnv === undefined ? {} : { fromEnv: d.fromEnv }),
        ...(d.to === undefined ? {} : { to: d.to }),
      };
      return { ...(doc ?? { assetId: d.assetId }), restores: [...(doc?.restores ?? []), restore] };
    }
    return doc;
  },
};
