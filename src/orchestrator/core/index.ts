/**
 * The orchestrator's pure core: commands, the read model, the deciders and
 * `nextActions`. No I/O: see docs/architecture.md ("Layers").
 */
export type { Call, Command } from "./commands.js";
export { assetIdOf, callIdOf, checkpointKeyOf, decide, executionIdOf, mergeOptions, rerunnable, CANCELS_PER_COMMIT, type DecideContext, type Decision } from "./decide.js";
export { modelOf, type Inherited, type Model } from "./model.js";
export { waitingReasons, type Waiting } from "./queue.js";
export { nextActions, trackActive, handlesIn, satisfies, permitsTaken, fullLimit, type Action, type ActiveExecution, type AgentSlot, type Gate, type Liveness, type Plan } from "./next-actions.js";
export { rejectionMessage, rejectionStatus, type Rejection } from "./rejections.js";
export { ABANDON_RETRIES, FREE_ABANDON_CAUSES, delayFor, shouldRetry } from "./retry-policy.js";
export {
  authorize,
  credentialRefusal,
  delegationRefusal,
  unauthenticated,
  withinReach,
  GRANTS,
  type Authorization,
  type Forbidden,
  type Need,
  type Reach,
  type RolePermission,
  type Unauthenticated,
} from "./authorize.js";
export { coversAll, coversEnv, patternMatches, patternRefusal, patternWithin } from "../../protocol/env-patterns.js";
