/** An environment's projections: dumped, or dropped and rebuilt from the log. */
import { envOf, type Handlers } from "../context.js";

export const projectionRoutes = {
  dumpProjections: async (ctx, r) => {
    const { rt } = await envOf(ctx, r);
    return { lastSeq: rt.lastSeq, lines: rt.dump() };
  },

  rebuildProjections: async (ctx, r) => {
    const env = await envOf(ctx, r);
    const commits = await ctx.envs.rebuild(env);
    return { rebuilt: commits, lastSeq: env.rt.lastSeq };
  },
} satisfies Partial<Handlers>;
