/**
 * The one place events are built: the envelope (a fresh id, the time of the
 * decision, the current schema version of the type from `CURRENT_VERSION`,
 * and who caused it when the context says) around `data`, which is checked
 * against the type.
 */
import { CURRENT_VERSION, type EnvEvent, type EnvEventOf, type Principal, type RunEvent, type RunEventOf, type RunId } from "../../events/index.js";
import type { DecideContext } from "./decision.js";

type RunType = RunEvent["type"];
type EnvType = EnvEvent["type"];
/** The `data` of the current version of run event `T`. */
export type RunData<T extends RunType> = Extract<RunEvent, { readonly type: T }>["data"];
/** The `data` of the current version of environment event `T`. */
export type EnvData<T extends EnvType> = Extract<EnvEvent, { readonly type: T }>["data"];

/** A run event of type `T` of run `runId`. */
export const runEvent = <T extends RunType>(ctx: DecideContext, type: T, runId: RunId, data: Readonly<RunData<T>>): RunEventOf<T, RunData<T>> => ({
  id: ctx.id(),
  type,
  v: CURRENT_VERSION[type],
  at: ctx.now,
  runId,
  ...byOf(ctx),
  data,
});

/** An environment event of type `T`. */
export const envEvent = <T extends EnvType>(ctx: DecideContext, type: T, data: Readonly<EnvData<T>>): EnvEventOf<T, EnvData<T>> => ({
  id: ctx.id(),
  type,
  v: CURRENT_VERSION[type],
  at: ctx.now,
  ...byOf(ctx),
  data,
});

/** The envelope's `by`: the key only when there is someone (never `by: undefined`). */
const byOf = (ctx: DecideContext): { readonly by?: Principal } => (ctx.by === undefined ? {} : { by: ctx.by });
