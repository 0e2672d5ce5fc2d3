/** A run's task logs: read at once, or followed (ndjson) until the run ends. */
import type { ServerResponse } from "node:http";
import type { RunId } from "../../../events/index.js";
import { getRunView } from "../../../projections/index.js";
import type { Env } from "../../environments.js";
import { toJson } from "../../../protocol/json.js";
import { envOf, runOf, STREAMED, type Handlers, type ServerContext } from "../context.js";

export const logRoutes = {
  runLogs: async (ctx, r) => {
    const env = await envOf(ctx, r);
    const { runId } = r.params;
    await runOf(ctx, env, r);
    const follow = r.query.get("follow");
    if (follow !== "true" && follow !== "1") return env.logs.read(runId);
    return followLogs(ctx, env, runId, r.res);
  },
} satisfies Partial<Handlers>;

const followLogs = (ctx: ServerContext, env: Env, runId: RunId, res: ServerResponse): typeof STREAMED => {
  res.writeHead(200, { "content-type": "application/x-ndjson" });
  // Said at once: a follower knows the stream is open before its first line.
  res.flushHeaders();
  for (const line of env.logs.read(runId)) res.write(toJson(line) + "\n");
  const stop = env.logs.follow((line) => {
    if (line.runId === runId) res.write(toJson(line) + "\n");
  });
  const finished = env.rt.waitForStep(runId, getRunView(env.rt.source, runId)!.run.rootStepId);
  void finished.then(() => setTimeout(() => res.end(), 100));
  // A stopping server ends the stream: the client asks again (and skips the lines it has) once it is back.
  const end = () => res.end();
  ctx.stopping.addEventListener("abort", end, { once: true });
  res.on("close", () => {
    stop();
    ctx.stopping.removeEventListener("abort", end);
  });
  return STREAMED;
};
