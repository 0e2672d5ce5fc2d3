/** `GET …/agents`: the agents connected now, and every agent the environment has seen. */
import { listAgents } from "../../../projections/index.js";
import { envOf, type Handlers } from "../context.js";

export const agentRoutes = {
  listAgents: async (ctx, r) => {
    const env = await envOf(ctx, r);
    return { connected: env.scheduler.connected(), known: listAgents(env.rt.source) };
  },
} satisfies Partial<Handlers>;
