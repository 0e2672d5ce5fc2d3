/** Runs: list, submit, read one with its history and its outcome, cancel, re-run a step. */
import { Readable } from "node:stream";
import type { Principal, Value } from "../../../events/index.js";
import { listRuns, staleSteps, type RunFilter, type RunView } from "../../../projections/index.js";
import { INLINE_VALUE_BYTES, packArguments } from "../../../protocol/messages.js";
import { isoTimeOf } from "../../../protocol/http.js";
import { rerunnable, type Model, type Rejection } from "../../core/index.js";
import { memoKeyNow, rerunCallers } from "../../cascades.js";
import type { Env } from "../../environments.js";
import { stepKeys } from "../../keys.js";
import { envOf, rejected, runOf, unlessClosing, type Handlers, type ServerContext } from "../context.js";
import { HttpError } from "../http-io.js";
import { runAsOfQuery } from "./time-travel.js";

export const runRoutes = {
  listRuns: async (ctx, r) => {
    const q = (k: string) => r.query.get(k) ?? undefined;
    const time = (k: "since" | "until"): Pick<RunFilter, "since" | "until"> => {
      const text = q(k);
      if (text === undefined) return {};
      const ms = isoTimeOf(text);
      if (ms === undefined) throw new HttpError(400, `query parameter ${k}: ${JSON.stringify(text)} is not a valid ISO date or time (no such day or time)`);
      return { [k]: ms };
    };
    const filter: RunFilter = {
      ...(q("before") ? { before: q("before")! } : {}),
      ...(q("status") ? { status: q("status")! } : {}),
      ...(q("target") ? { target: q("target")! } : {}),
      ...time("since"),
      ...time("until"),
    };
    if (filter.since !== undefined && filter.until !== undefined && filter.since > filter.until) {
      throw new HttpError(400, `query parameter since (${q("since")}) is after until (${q("until")}): give since before until`);
    }
    return listRuns((await envOf(ctx, r)).rt.source, Number(q("limit") ?? 50), filter);
  },

  submitRun: async (ctx, r) => submit(ctx, await envOf(ctx, r), r.body, r.principal),

  getRun: async (ctx, r) => {
    const env = await envOf(ctx, r);
    if (r.query.has("at") || r.query.has("atTime")) {
      const { view, asOf } = await runAsOfQuery(ctx, r, env, r.params.runId);
      return { ...view, stale: staleSteps(view), asOf };
    }
    const now = await runOf(ctx, env, r);
    const queue = env.scheduler.queue().filter((w) => w.runId === now.run.runId);
    return { ...now, stale: staleSteps(now), ...(queue.length > 0 ? { queue } : {}) };
  },

  runHistory: async (ctx, r) => {
    const env = await envOf(ctx, r);
    await runOf(ctx, env, r);
    const out = [];
    for await (const c of ctx.log.read(env.ref, { runId: r.params.runId })) {
      for (let i = 0; i < c.events.length; i++) out.push({ seq: c.seq, index: i, ...c.events[i] });
    }
    return out;
  },

  runResult: async (ctx, r) => {
    const env = await envOf(ctx, r);
    const { rt } = env;
    const { runId } = r.params;
    const view = await runOf(ctx, env, r);
    const wait = r.query.get("wait") === "true" || r.query.get("wait") === "1";
    const outcome = wait ? await unlessClosing(ctx, rt.waitForStep(runId, view.run.rootStepId)) : await rt.outcomeOf(runId, view.run.rootStepId);
    return { runId, ...(outcome ? { outcome } : { pending: true }) };
  },

  cancelRun: async (ctx, r) => {
    const env = await envOf(ctx, r);
    const { runId } = r.params;
    await runOf(ctx, env, r);
    const x = await env.rt.execute({ type: "CancelRun", runId, reason: "cancelled by user" }, { by: r.principal });
    if (!x.ok) throw rejected(x.rejection);
    if (x.events.length === 0) return { runId, cancelled: true, already: true };
    if (x.events.some((e) => e.type === "RunCancelled")) return { runId, cancelled: true, seq: x.seq };
    // A finished run with re-runs in flight: those stopped, the run keeps its outcome.
    return { runId, cancelled: false, stopped: x.events.length, status: env.rt.model.run(runId)?.status, seq: x.seq };
  },

  rerunStep: async (ctx, r) => {
    const env = await envOf(ctx, r);
    const { rt } = env;
    const { runId, stepId } = r.params;
    await runOf(ctx, env, r, rerunCheck(rt.model, stepId));
    const x = await rt.execute({ type: "RerunStep", runId, stepId, ...memoKeyNow(rt.model, runId, stepId) }, { by: r.principal });
    if (!x.ok) throw rejected(x.rejection);
    const step = rt.model.step(runId, stepId)!;
    const cascade = (r.body as { cascade?: unknown } | undefined)?.cascade === true;
    // In the background: the answer says it started. A failure (the log failed, the server stops) is told, not thrown.
    if (cascade) rerunCallers(rt, runId, stepId, ctx.notice, r.principal).catch((e: unknown) => ctx.notice(`re-running the callers of ${runId}/${stepId} stopped: ${(e as Error).message}`));
    const warning = waiting(env, step.target);
    return { runId, stepId, executionId: step.executions[step.executions.length - 1], seq: x.seq, cascade, ...(warning ? { warning } : {}) };
  },
} satisfies Partial<Handlers>;

const submit = async (ctx: ServerContext, env: Env, body: unknown, by: Principal | undefined): Promise<unknown> => {
  const b = (body ?? {}) as { target?: unknown; arguments?: unknown; idempotencyKey?: unknown; queue?: unknown };
  if (typeof b.target !== "string" || !/^[^:]+:[^:]+$/.test(b.target)) {
    throw new HttpError(400, 'give the target as "repository:target", e.g. {"target": "orders:process_orders"}');
  }
  if (b.arguments !== undefined && !Array.isArray(b.arguments)) throw new HttpError(400, "arguments must be an array");
  if (b.idempotencyKey !== undefined && typeof b.idempotencyKey !== "string") throw new HttpError(400, "idempotencyKey must be a string");
  const [repository, target] = b.target.split(":") as [string, string];
  const given = (b.arguments ?? []) as Value[];
  // Arguments too large to log inline are kept as a blob, as agents do with theirs.
  const packed = packArguments(given);
  const argumentsBlob = packed.length > INLINE_VALUE_BYTES ? await ctx.blobs.put(Readable.from([Buffer.from(packed)])) : undefined;
  const args = argumentsBlob === undefined ? given : [];
  const r = await env.rt.execute({
    type: "SubmitRun",
    runId: env.rt.newRunId(),
    target: { repository, target },
    arguments: args,
    ...(argumentsBlob === undefined
      ? {}
      : { argumentsBlob: { key: argumentsBlob.key, size: argumentsBlob.size, sha256: argumentsBlob.sha256 }, argumentCount: given.length }),
    keys: stepKeys(env.rt.model, { repository, target }, args, undefined, argumentsBlob),
    ...(b.idempotencyKey === undefined ? {} : { idempotencyKey: b.idempotencyKey }),
    ...(b.queue === true ? { queue: true } : {}),
  }, { by });
  if (!r.ok) throw rejected(r.rejection);
  const created = r.events.find((e) => e.type === "RunSubmitted");
  const runId = created?.runId ?? (b.idempotencyKey === undefined ? undefined : env.rt.model.runForKey(b.idempotencyKey));
  const warning = created ? waiting(env, { repository, target }) : undefined;
  return { runId, created: created !== undefined, seq: r.seq, ...(warning ? { warning } : {}) };
};

/** Before a run is brought into a branch to re-run `stepId`: could that step be re-run here? */
const rerunCheck =
  (m: Model, stepId: string) =>
  (view: RunView): Rejection | undefined => {
    const found = rerunnable(m, view.run.runId, stepId, view.steps.find((s) => s.stepId === stepId));
    return found._tag === "Left" ? found.left : undefined;
  };

/** What to tell whoever queued work for a target that no connected agent hosts: it waits. */
const waiting = (env: Env, t: { readonly repository: string; readonly target: string }): string | undefined =>
  env.scheduler.hosts(`${t.repository}:${t.target}`)
    ? undefined
    : `no connected agent hosts ${t.repository}:${t.target} now: it waits until one connects to ${env.ref.project}/${env.ref.env} ('tributary agent --env ${env.ref.env} MODULE')`;
