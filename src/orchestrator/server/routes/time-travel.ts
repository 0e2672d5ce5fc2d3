/**
 * `GET …/runs/{run}?at=SEQ | ?atTime=ISO`: a run as it stood at a point of
 * the log that holds it (the environment's own, or for a run a branch sees
 * from its parent, the parent's up to the branch point).
 */
import type { RunId } from "../../../events/index.js";
import { getRunView, type RunView } from "../../../projections/index.js";
import { runAt, type Point } from "../../../projections/store/index.js";
import type { RunAsOf } from "../../../protocol/api.js";
import { isoTimeOf } from "../../../protocol/http.js";
import type { Env } from "../../environments.js";
import { allowed, rejected, type RouteRequest, type ServerContext } from "../context.js";
import { HttpError } from "../http-io.js";

/**
 * The run as of `?at` (a sequence; past the log's end: the latest) or
 * `?atTime` (an ISO date), folded from the run's own commits up to there
 * (query shapes are checked by the route's schema), with the log it was read
 * from (`asOf`). A run the environment does not have but sees (a branch's
 * parent's, not brought in; a base's) is read from that environment's log,
 * `at` being a sequence of that log, and a branch's parent's no further than
 * the branch point. 404 naming the point when the run did not exist yet.
 * That other environment is not in the path, so the edge did not check it:
 * 403 unless the caller may read it too (before anything of its log is said).
 */
export const runAsOfQuery = async (ctx: ServerContext, r: Pick<RouteRequest, "caller" | "params" | "query">, env: Env, runId: RunId): Promise<{ view: RunView; asOf: RunAsOf }> => {
  const query = r.query;
  const at = query.get("at");
  const atTime = query.get("atTime");
  if (at !== null && atTime !== null) throw new HttpError(400, "give at (a log sequence) or atTime (an ISO date), not both");
  let point: Point;
  let said: string;
  if (at !== null) {
    point = { seq: Number(at) };
    said = `at seq ${at}`;
  } else {
    const time = isoTimeOf(atTime!);
    if (time === undefined) throw new HttpError(400, `query parameter atTime ${JSON.stringify(atTime)} is not a date (no such day or time)`);
    point = { time };
    said = `at ${new Date(time).toISOString()}`;
  }
  const holder = ctx.envs.holderOf(env, runId);
  if (!holder && !getRunView(env.rt.source, runId)) throw rejected({ _tag: "UnknownRun", runId });
  if (holder) allowed(ctx, r, "read", holder.env);
  const ref = holder?.ref ?? env.ref;
  const found = await runAt(ctx.log, ref, runId, point, holder?.upTo);
  const where = `${ref.project}/${ref.env}`;
  if (found.found) {
    return {
      view: found.view,
      asOf: { env: ref.env, seq: found.seq, ...(holder ? { seenFrom: holder.upTo === undefined ? "base" : "parent" } : {}), ...(holder?.upTo === undefined ? {} : { upTo: holder.upTo }) },
    };
  }
  throw new HttpError(
    404,
    found.first === undefined
      ? `run ${runId} has no events in the log of ${where}`
      : `run ${runId} did not exist yet ${said}: its first event in ${where} is at seq ${found.first}`,
  );
};
