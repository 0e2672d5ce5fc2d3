/**
 * The targets agents have registered here: looking one up for a run or a
 * call, checking the arguments against its parameters, and the options a
 * step of it gets.
 */
import * as E from "fp-ts/lib/Either.js";
import type { StepOptions, TargetManifest, TargetRef } from "../../../events/index.js";
import type { Model } from "../model.js";
import { poolHosts, poolsThatMayHost } from "../pools.js";
import type { Rejection } from "../rejections.js";

/** The target as registered, or an `UnknownTarget` rejection listing what is known. */
export const findTarget = (m: Model, t: TargetRef): E.Either<Rejection, TargetManifest> => {
  const manifest = m.manifest(t.repository);
  const found = manifest?.targets.find((x) => x.name === t.target);
  if (found) return E.right(found);
  const known = manifest
    ? manifest.targets.map((x) => `${t.repository}:${x.name}`)
    : m.repositories().map((r) => `${r}:*`);
  return E.left({ _tag: "UnknownTarget", repository: t.repository, target: t.target, known });
};

/**
 * The target as registered, if these arguments fit its parameters, and (for
 * a run submitted from outside, `asRun`) if it is a workflow: only
 * workflows are scheduled as runs; tasks are called by workflows.
 */
export const findRunnable = (m: Model, t: TargetRef, count: number, asRun: boolean): E.Either<Rejection, TargetManifest> => {
  const found = findTarget(m, t);
  if (E.isLeft(found)) return found;
  const target = found.right;
  if (asRun && target.kind !== "workflow") {
    const workflows = (m.manifest(t.repository)?.targets ?? []).filter((x) => x.kind === "workflow").map((x) => `${t.repository}:${x.name}`);
    return E.left({ _tag: "NotAWorkflow", repository: t.repository, target: t.target, workflows });
  }
  const a = target.arity;
  if (a && (count < a.min || (a.max !== undefined && count > a.max))) {
    return E.left({
      _tag: "WrongArgumentCount",
      target: `${t.repository}:${t.target}`,
      given: count,
      min: a.min,
      ...(a.max === undefined ? {} : { max: a.max }),
      parameters: target.parameters.map((p) => p.name),
    });
  }
  return found;
};

/**
 * May a run of `t`, a target no agent has registered here, be accepted now
 * to wait for one? When the submission asks to (`queue`), or when a pool of
 * the environment hosts `t.repository` (its agents did), or may (none of its
 * agents has connected yet: the launcher starts one to find out).
 */
export const mayQueue = (m: Model, t: TargetRef, asked: boolean): boolean =>
  asked || poolsThatMayHost(m.pools(), poolHosts(m.agents()), t.repository).length > 0;

/** Per-call options over the target's own. */
export const mergeOptions = (base: StepOptions, over: StepOptions | undefined): StepOptions => {
  if (!over) return base;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) if (v !== undefined) out[k] = v;
  return out as StepOptions;
};
