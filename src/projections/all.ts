/** The projection lists, in the order they are applied. */
import { assetsProjection } from "./assets.js";
import { blobRefsProjection } from "./blob-refs.js";
import { cacheProjection } from "./cache.js";
import { checkpointsProjection } from "./checkpoints.js";
import {
  agentsProjection,
  callsProjection,
  environmentProjection,
  idempotencyProjection,
  manifestsProjection,
} from "./environment.js";
import { inputIndexProjection, inputsProjection } from "./inputs.js";
import type { AnyProjection } from "./projection.js";
import { deferralsProjection, memoProjection, pendingProjection } from "./reuse.js";
import { executionsProjection, runsProjection, stepsProjection } from "./runs.js";
import { progressProjection } from "./progress.js";
import { poolsProjection } from "./pools.js";

/** What one run's history feeds (`steps` before `cache`: the cache reads step documents). */
export const RUN_PROJECTIONS: readonly AnyProjection[] = [
  runsProjection,
  stepsProjection,
  executionsProjection,
  assetsProjection,
  checkpointsProjection,
  progressProjection,
];

/** Every projection of an environment. */
export const PROJECTIONS: readonly AnyProjection[] = [
  ...RUN_PROJECTIONS,
  cacheProjection,
  agentsProjection,
  manifestsProjection,
  environmentProjection,
  idempotencyProjection,
  callsProjection,
  memoProjection,
  pendingProjection,
  deferralsProjection,
  blobRefsProjection,
  poolsProjection,
  inputsProjection,
  inputIndexProjection,
];
