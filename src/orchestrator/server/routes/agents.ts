/** `GET …/agents`: the agents connected now, every agent the environment has seen, the repositories' manifests, and the queue with why each waits. */
import { listAgents, listManifests } from "../../../projections/index.js";
import { envOf, type Handlers } from "../context.js";

export const agentRoutes = {
  listAgents: async (ctx, r) => {
    const env = await envOf(ctx, r);
    return { connected: env.scheduler.connected(), known: listAgents(env.rt.source), manifests: listManifests(env.rt.source), queue: env.scheduler.queue() };
  },
} satisfies Partial<Handlers>;
