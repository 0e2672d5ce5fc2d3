/** `GET …/steps/:runId`: the steps of a run. */
import { stepsOfRun } from "../../../projections/index.js";
import { envOf, type Handlers } from "../context.js";

export const stepRoutes = {
  runSteps: async (ctx, r) => stepsOfRun((await envOf(ctx, r)).rt.source, r.params.runId),
} satisfies Partial<Handlers>;
