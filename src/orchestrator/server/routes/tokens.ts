/**
 * `GET /api/whoami`; `GET | POST /api/projects/{p}/tokens` and
 * `POST …/tokens/{id}/revoke`. A token's text is in the answer to its
 * creation and nowhere else; lists show ids and scopes, never secrets.
 */
import type { TokenRole } from "../../../events/index.js";
import type { WhoAmIAnswer } from "../../../protocol/api.js";
import { tokenAnswer, type TokenRequest } from "../../auth/access.js";
import type { Handlers } from "../context.js";

export const tokenRoutes = {
  whoami: (ctx, { caller }): WhoAmIAnswer => ({
    auth: ctx.access.enabled,
    ...(caller ? { principal: caller.principal } : {}),
    ...(caller?.token ? { token: tokenAnswer(caller.token) } : {}),
  }),

  listTokens: (ctx, { params: { project }, caller }) => ctx.access.list(caller, project),

  createToken: (ctx, { params: { project }, body, caller }) => {
    const b = body as { role: TokenRole; envs?: string[]; name?: string; expiresInMs?: number };
    const want: TokenRequest = {
      role: b.role,
      ...(b.envs === undefined ? {} : { envs: b.envs }),
      ...(b.name === undefined ? {} : { name: b.name }),
      ...(b.expiresInMs === undefined ? {} : { expiresInMs: b.expiresInMs }),
    };
    return ctx.access.create(caller, project, want);
  },

  revokeToken: (ctx, { params: { project, tokenId }, body, caller }) =>
    ctx.access.revoke(caller, project, tokenId, (body as { reason?: string } | undefined)?.reason),
} satisfies Partial<Handlers>;
