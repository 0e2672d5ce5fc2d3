/**
 * Projections, the pure part: folds of the log and queries over them. The
 * LMDB store, the projector and time travel (I/O) are `./store/index.js`.
 */
export type { AnyProjection, DocSource, EvolveContext, Projection, RangeOptions } from "./projection.js";
export { applyCommit, Overlay, versionsOf } from "./projection.js";
export { PROJECTIONS, RUN_PROJECTIONS } from "./all.js";
export * from "./runs.js";
export * from "./cache.js";
export * from "./assets.js";
export * from "./blob-refs.js";
export * from "./environment.js";
export * from "./reuse.js";
export * from "./tokens.js";
export * from "./inputs.js";
export * from "./queries.js";
export * from "./pools.js";
export { canonicalJson, dumpLine } from "./dump.js";
export { MemoryStore } from "./memory-store.js";
export { ProjectionCorrupt, ProjectionGap } from "./errors.js";
export * from "./compare.js";
export * from "./checkpoints.js";
export * from "./progress.js";
