/**
 * The decider: `decide(command, model, ctx)` → the events that carry the
 * command out, or a rejection. It only dispatches on `command.type` to the
 * decider of the aggregate the command is about (`deciders/`): runs and
 * their steps, executions, the environment, agents, assets, blobs uploaded, and (on the server log) tokens. A command type
 * without a handler is a compile error here.
 *
 * Pure: the model is a read-only view of the projections, and ids and the
 * time come in through `ctx`. Decisions are idempotent: a command whose
 * effect is already in the model (a re-sent result, a re-sent call, a known
 * idempotency key) decides no events.
 */
import type { Command } from "./commands.js";
import { agents } from "./deciders/agents.js";
import { assets } from "./deciders/assets.js";
import { blobs } from "./deciders/blobs.js";
import { checkpoints } from "./deciders/checkpoints.js";
import { environments } from "./deciders/environments.js";
import { executions } from "./deciders/executions.js";
import { runs } from "./deciders/runs.js";
import { tokens } from "./deciders/tokens.js";
import { pools } from "./deciders/pools.js";
import { progress } from "./deciders/progress.js";
import { waits } from "./deciders/waits.js";
import type { CommandOf, DecideContext, Decision, Handlers } from "./decision.js";
import type { Model } from "./model.js";

const HANDLERS: Handlers = { ...runs, ...executions, ...environments, ...agents, ...assets, ...blobs, ...tokens, ...checkpoints, ...progress, ...pools, ...waits };

const dispatch = <K extends Command["type"]>(type: K, cmd: CommandOf<K>, m: Model, ctx: DecideContext): Decision =>
  HANDLERS[type](cmd, m, ctx);

export const decide = (cmd: Command, m: Model, ctx: DecideContext): Decision => dispatch(cmd.type, cmd, m, ctx);

export type { DecideContext, Decision } from "./decision.js";
export { assetIdOf, callIdOf, checkpointKeyOf, executionIdOf } from "./deciders/ids.js";
export { CANCELS_PER_COMMIT } from "./deciders/cancellations.js";
export { rerunnable } from "./deciders/runs.js";
export { mergeOptions } from "./deciders/targets.js";
export type { TargetKind } from "../../events/index.js";
