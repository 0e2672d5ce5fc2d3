/**
 * The decider of the environment's own lifecycle: created (or branched from
 * a parent), rebased, archived. What needs the other environments (an
 * unknown base, a cycle) is checked before the command gets here.
 */
import type { EnvName, ProjectName } from "../../../events/index.js";
import { accept, none, reject, type Handler, type Handlers } from "../decision.js";
import { envEvent } from "../event.js";

/** The first event of an environment's log. */
export const createEnvironment: Handler<"CreateEnvironment"> = (cmd, m, ctx) => {
  if (m.environment()) return reject({ _tag: "EnvironmentExists", env: cmd.env });
  return accept([
    envEvent(ctx, "EnvironmentCreated", {
      project: cmd.project as ProjectName,
      env: cmd.env as EnvName,
      ...(cmd.base === undefined ? {} : { base: cmd.base as EnvName }),
    }),
  ]);
};

/** The first event of a branch's log: its parent, and the parent's sequence it was branched at. */
export const branchEnvironment: Handler<"BranchEnvironment"> = (cmd, m, ctx) => {
  if (m.environment()) return reject({ _tag: "EnvironmentExists", env: cmd.env });
  return accept([
    envEvent(ctx, "EnvironmentBranched", { project: cmd.project as ProjectName, env: cmd.env as EnvName, parent: cmd.parent as EnvName, at: cmd.at }),
  ]);
};

/** A new base (`null`: none); the base it has already decides nothing. */
export const rebaseEnvironment: Handler<"RebaseEnvironment"> = (cmd, m, ctx) => {
  const here = m.environment();
  if (!here) return reject({ _tag: "UnknownEnvironment", env: "" });
  if ((here.base ?? null) === cmd.base) return none;
  return accept([envEvent(ctx, "EnvironmentRebased", { base: cmd.base as EnvName | null })]);
};

/** Archived, once: it refuses new runs from now on. */
export const archiveEnvironment: Handler<"ArchiveEnvironment"> = (cmd, m, ctx) => {
  const here = m.environment();
  if (!here) return reject({ _tag: "UnknownEnvironment", env: "" });
  if (here.archived) return none;
  return accept([envEvent(ctx, "EnvironmentArchived", cmd.reason === undefined ? {} : { reason: cmd.reason })]);
};

export const environments: Handlers<"CreateEnvironment" | "BranchEnvironment" | "RebaseEnvironment" | "ArchiveEnvironment"> = {
  CreateEnvironment: createEnvironment,
  BranchEnvironment: branchEnvironment,
  RebaseEnvironment: rebaseEnvironment,
  ArchiveEnvironment: archiveEnvironment,
};
