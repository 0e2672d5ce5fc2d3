/** `GET /api/health` and `GET /api/schema`. */
import { apiSchema } from "../../../protocol/index.js";
import type { Handlers } from "../context.js";

export const metaRoutes = {
  health: (ctx) => ({ ok: true, log: ctx.log.kind }),
  schema: () => apiSchema(),
} satisfies Partial<Handlers>;
