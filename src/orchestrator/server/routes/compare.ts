/** Two runs compared step by step: this one and another, maybe in another environment of the project. */
import { compareRuns, getRunView } from "../../../projections/index.js";
import type { RunId } from "../../../events/index.js";
import { allowed, envOf, rejected, runOf, type Handlers } from "../context.js";

export const compareRoutes = {
  compareRuns: async (ctx, r) => {
    const a = await runOf(ctx, await envOf(ctx, r), r);
    const withEnv = r.query.get("withEnv") ?? r.params.env;
    const withRun = (r.query.get("with") ?? r.params.runId) as RunId;
    // The other environment is not in the path: the edge checked this one only.
    allowed(ctx, r, "read", withEnv);
    const other = await ctx.envs.get(r.params.project, withEnv);
    const b = getRunView(other.rt.source, withRun);
    if (!b) throw rejected({ _tag: "UnknownRun", runId: withRun });
    return { ...compareRuns(a, b), envs: { a: r.params.env, b: withEnv } };
  },
} satisfies Partial<Handlers>;
