/**
 * The decider of the environment's own lifecycle: created (or branched from
 * a parent), rebased, archived. What it needs to know of the project's other
 * environments (a base or a parent: does it exist, is it archived, what are
 * its bases, how long is its log) comes with the command, gathered by the
 * edge.
 */
import { isReservedProject } from "../../../events/index.js";
import type { ProposedBase } from "../commands.js";
import { accept, none, reject, type Handler, type Handlers } from "../decision.js";
import { envEvent } from "../event.js";
import type { Rejection } from "../rejections.js";

/** The first event of an environment's log, if its base (when it has one) exists and is not archived. */
export const createEnvironment: Handler<"CreateEnvironment"> = (cmd, m, ctx) => {
  if (isReservedProject(cmd.project)) return reject(reserved(cmd.project));
  if (m.environment()) return reject({ _tag: "EnvironmentExists", env: cmd.env });
  const refusal = cmd.base && baseRefusal(cmd.project, cmd.base);
  if (refusal) return reject(refusal);
  return accept([
    envEvent(ctx, "EnvironmentCreated", {
      project: cmd.project,
      env: cmd.env,
      ...(cmd.base === undefined ? {} : { base: cmd.base.env }),
    }),
  ]);
};

/**
 * The first event of a branch's log: its parent (which must exist; it may
 * be archived), and the parent's sequence it was branched at, which must be
 * in the parent's log.
 */
export const branchEnvironment: Handler<"BranchEnvironment"> = (cmd, m, ctx) => {
  if (isReservedProject(cmd.project)) return reject(reserved(cmd.project));
  if (m.environment()) return reject({ _tag: "EnvironmentExists", env: cmd.env });
  const { env: parent, lastSeq } = cmd.parent;
  if (lastSeq === undefined) return reject({ _tag: "UnknownEnvironment", env: `${cmd.project}/${parent}` });
  if (!Number.isSafeInteger(cmd.at) || cmd.at < 1 || cmd.at > lastSeq) {
    return reject({ _tag: "InvalidArgument", message: `branch point ${cmd.at} is outside ${parent}'s log (1 to ${lastSeq})` });
  }
  return accept([
    envEvent(ctx, "EnvironmentBranched", { project: cmd.project, env: cmd.env, parent, at: cmd.at }),
  ]);
};

/**
 * A new base (`null`: none), if it exists, is not archived and would not
 * make a cycle of bases; the base it has already decides nothing.
 */
export const rebaseEnvironment: Handler<"RebaseEnvironment"> = (cmd, m, ctx) => {
  const here = m.environment();
  if (!here) return reject({ _tag: "UnknownEnvironment", env: "" });
  if (cmd.base !== null) {
    const refusal = baseRefusal(here.project, cmd.base) ?? environmentCycle(here.env, [cmd.base.env, ...(cmd.base.found?.bases ?? [])]);
    if (refusal) return reject(refusal);
  }
  if ((here.base ?? null) === (cmd.base?.env ?? null)) return none;
  return accept([envEvent(ctx, "EnvironmentRebased", { base: cmd.base?.env ?? null })]);
};

/** Archived, once: it refuses new runs from now on. */
export const archiveEnvironment: Handler<"ArchiveEnvironment"> = (cmd, m, ctx) => {
  const here = m.environment();
  if (!here) return reject({ _tag: "UnknownEnvironment", env: "" });
  if (here.archived) return none;
  return accept([envEvent(ctx, "EnvironmentArchived", cmd.reason === undefined ? {} : { reason: cmd.reason })]);
};

/** Paused, once: nothing new is assigned until resumed (pausing a paused environment decides nothing). */
export const pauseEnvironment: Handler<"PauseEnvironment"> = (cmd, m, ctx) => {
  const here = m.environment();
  if (!here) return reject({ _tag: "UnknownEnvironment", env: "" });
  if (here.paused) return none;
  return accept([envEvent(ctx, "EnvironmentPaused", cmd.reason === undefined ? {} : { reason: cmd.reason })]);
};

/** Resumed, if paused. */
export const resumeEnvironment: Handler<"ResumeEnvironment"> = (_cmd, m, ctx) => {
  const here = m.environment();
  if (!here) return reject({ _tag: "UnknownEnvironment", env: "" });
  if (!here.paused) return none;
  return accept([envEvent(ctx, "EnvironmentResumed", {})]);
};

/** The project of the server's own log (tokens) is not the users'. */
const reserved = (project: string): Rejection => ({ _tag: "InvalidName", message: `project name ${JSON.stringify(project)} is reserved for the server's own log: choose another` });

/** Why environment `base` of `project` cannot be a base, if it cannot: there is no such environment, or it is archived. */
const baseRefusal = (project: string, base: ProposedBase): Rejection | undefined => {
  if (!base.found) return { _tag: "UnknownEnvironment", env: `${project}/${base.env}` };
  if (base.found.archived) return { _tag: "ArchivedBase", env: `${project}/${base.env}`, as: "base" };
  return undefined;
};

/** Giving `env` the base whose chain of bases is `chain` (the base first) would make a cycle: the refusal, naming it. */
export const environmentCycle = (env: string, chain: readonly string[]): Rejection | undefined =>
  chain.includes(env) ? { _tag: "EnvironmentCycle", path: [env, ...chain.slice(0, chain.indexOf(env) + 1)] } : undefined;

export const environments: Handlers<
  "CreateEnvironment" | "BranchEnvironment" | "RebaseEnvironment" | "ArchiveEnvironment" | "PauseEnvironment" | "ResumeEnvironment"
> = {
  CreateEnvironment: createEnvironment,
  BranchEnvironment: branchEnvironment,
  RebaseEnvironment: rebaseEnvironment,
  ArchiveEnvironment: archiveEnvironment,
  PauseEnvironment: pauseEnvironment,
  ResumeEnvironment: resumeEnvironment,
};
