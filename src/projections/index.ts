/** Projections: pure folds of the log, materialised in LMDB, and queries over them. */
export type { AnyProjection, DocReader, DocSource, EvolveContext, Projection, RangeOptions } from "./projection.js";
export { applyCommit, Overlay, versionsOf } from "./projection.js";
export { PROJECTIONS, RUN_PROJECTIONS } from "./all.js";
export * from "./runs.js";
export * from "./cache.js";
export * from "./assets.js";
export * from "./environment.js";
export * from "./reuse.js";
export * from "./queries.js";
export { canonicalJson, dumpLine } from "./dump.js";
export { MemoryStore } from "./memory-store.js";
export { LmdbProjectionStore } from "./store-lmdb.js";
export { Projector, type CatchUpResult, type ProjectorOptions } from "./projector.js";
export { runAsOf, stateAsOf } from "./time-travel.js";
export { ProjectionCorrupt, ProjectionGap } from "./errors.js";
