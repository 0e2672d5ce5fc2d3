/**
 * Every route's handler, by the route's name in `src/protocol/http.ts`
 * (`ROUTES`). The type holds the table whole: a route without a handler, or
 * a handler without a route, does not compile.
 */
import type { Handlers } from "../context.js";
import { agentRoutes } from "./agents.js";
import { assetRoutes } from "./assets.js";
import { blobRoutes } from "./blobs.js";
import { compareRoutes } from "./compare.js";
import { changeRoutes } from "./changes.js";
import { environmentRoutes } from "./environments.js";
import { inputRoutes } from "./inputs.js";
import { logRoutes } from "./logs.js";
import { metaRoutes } from "./meta.js";
import { projectionRoutes } from "./projections.js";
import { projectRoutes } from "./projects.js";
import { runRoutes } from "./runs.js";
import { stepRoutes } from "./steps.js";
import { tokenRoutes } from "./tokens.js";
import { poolRoutes } from "./pools.js";

export const HANDLERS: Handlers = {
  ...metaRoutes,
  ...environmentRoutes,
  ...runRoutes,
  ...stepRoutes,
  ...compareRoutes,

  ...logRoutes,
  ...assetRoutes,
  ...agentRoutes,
  ...projectionRoutes,
  ...blobRoutes,
  ...tokenRoutes,
  ...changeRoutes,
  ...projectRoutes,
  ...poolRoutes,
  ...inputRoutes,
};
