/** The decider of pools: created (once with the same settings), deleted. */
import { MAX_POOL_AGENTS, MAX_POOL_MODULES, POOL_NAME, POOL_NAME_HINT } from "../../../events/index.js";
import { accept, none, reject, type Handler, type Handlers } from "../decision.js";
import { envEvent } from "../event.js";

/**
 * A new pool; the same pool again (same settings) decides nothing, another
 * of the same name is refused. Its modules are absolute paths on the
 * server's machine (the edge makes them so, and checks they exist).
 */
export const createPool: Handler<"CreatePool"> = (cmd, m, ctx) => {
  if (!POOL_NAME.test(cmd.name)) {
    return reject({ _tag: "InvalidName", message: `pool name ${JSON.stringify(cmd.name)}: use ${POOL_NAME_HINT}` });
  }
  if (cmd.modules.length === 0 || cmd.modules.length > MAX_POOL_MODULES || cmd.modules.some((p) => !p.startsWith("/"))) {
    return reject({ _tag: "InvalidArgument", message: `modules: give 1 to ${MAX_POOL_MODULES} modules, as absolute paths on the server's machine` });
  }
  if (!Number.isSafeInteger(cmd.max) || cmd.max < 1 || cmd.max > MAX_POOL_AGENTS) {
    return reject({ _tag: "InvalidArgument", message: `max: a whole number from 1 to ${MAX_POOL_AGENTS}, got ${cmd.max}` });
  }
  const data = { name: cmd.name, launcher: cmd.launcher, modules: cmd.modules, max: cmd.max, tags: cmd.tags };
  const existing = m.pool(cmd.name);
  if (existing) {
    const same = JSON.stringify([existing.launcher, existing.modules, existing.max, existing.tags]) === JSON.stringify([data.launcher, data.modules, data.max, data.tags]);
    return same ? none : reject({ _tag: "PoolExists", name: cmd.name });
  }
  return accept([envEvent(ctx, "PoolCreated", data)]);
};

/** Deleted: its agents are stopped by the server. An unknown pool is refused. */
export const deletePool: Handler<"DeletePool"> = (cmd, m, ctx) => {
  if (!m.pool(cmd.name)) return reject({ _tag: "UnknownPool", name: cmd.name });
  return accept([envEvent(ctx, "PoolDeleted", { name: cmd.name })]);
};

export const pools: Handlers<"CreatePool" | "DeletePool"> = {
  CreatePool: createPool,
  DeletePool: deletePool,
};
