/** `GET …/runs/{run}?at=SEQ | ?atTime=ISO`: a run as it stood at a point of its environment's log. */
import type { RunId } from "../../../events/index.js";
import type { RunView } from "../../../projections/index.js";
import { runAt, type Point } from "../../../projections/store/index.js";
import type { Env } from "../../environments.js";
import type { ServerContext } from "../context.js";
import { HttpError } from "../http-io.js";

/**
 * The run as of `?at` (a sequence; past the log's end: the latest) or
 * `?atTime` (an ISO date), folded from the run's own commits up to there
 * (query shapes are checked by the route's schema). 404 naming the point
 * when the run did not exist yet.
 */
export const runAsOfQuery = async (ctx: ServerContext, env: Env, runId: RunId, query: URLSearchParams): Promise<RunView> => {
  const at = query.get("at");
  const atTime = query.get("atTime");
  if (at !== null && atTime !== null) throw new HttpError(400, "give at (a log sequence) or atTime (an ISO date), not both");
  let point: Point;
  let said: string;
  if (at !== null) {
    point = { seq: Number(at) };
    said = `at seq ${at}`;
  } else {
    const time = Date.parse(atTime!);
    if (Number.isNaN(time)) throw new HttpError(400, `query parameter atTime ${JSON.stringify(atTime)} is not a date`);
    point = { time };
    said = `at ${new Date(time).toISOString()}`;
  }
  const found = await runAt(ctx.log, env.ref, runId, point);
  if (found.found) return found.view;
  const where = `${env.ref.project}/${env.ref.env}`;
  throw new HttpError(
    404,
    found.first === undefined
      ? `run ${runId} has no events in the log of ${where} (it is seen from another environment's log): time travel reads this environment's log only`
      : `run ${runId} did not exist yet ${said}: its first event in ${where} is at seq ${found.first}`,
  );
};
