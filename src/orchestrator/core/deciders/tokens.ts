/**
 * The decider of access tokens, on the server log: created (once per id,
 * with a known role, valid environment patterns and an expiry in the
 * future), revoked (once; again decides nothing).
 */
import { TOKEN_HASH, TOKEN_ID, TOKEN_ROLES, type TokenRole } from "../../../events/index.js";
import { accept, none, reject, type Handler, type Handlers } from "../decision.js";
import { patternRefusal } from "../../../protocol/env-patterns.js";
import { envEvent } from "../event.js";

const isRole = (role: string): role is TokenRole => (TOKEN_ROLES as readonly string[]).includes(role);

export const createToken: Handler<"CreateToken"> = (cmd, m, ctx) => {
  if (!TOKEN_ID.test(cmd.tokenId)) {
    return reject({ _tag: "InvalidArgument", message: `tokenId: ${JSON.stringify(cmd.tokenId)} is not a token id (1-64 lower-case letters and digits)` });
  }
  if (!TOKEN_HASH.test(cmd.hash)) return reject({ _tag: "InvalidArgument", message: "hash: must be the hex SHA-256 of the secret (64 characters 0-9a-f)" });
  if (m.token(cmd.tokenId)) return reject({ _tag: "TokenExists", tokenId: cmd.tokenId });
  if (!isRole(cmd.role)) return reject({ _tag: "UnknownRole", role: cmd.role, roles: TOKEN_ROLES });
  if (cmd.envs.length === 0) return reject({ _tag: "InvalidArgument", message: "envs: give at least one environment pattern ('*': every environment)" });
  for (const pattern of cmd.envs) {
    const hint = patternRefusal(pattern);
    if (hint) return reject({ _tag: "InvalidEnvPattern", pattern, hint });
  }
  if (cmd.expiresAt !== undefined && !(cmd.expiresAt > ctx.now)) return reject({ _tag: "ExpiryInPast", expiresAt: cmd.expiresAt, now: ctx.now });
  return accept([
    envEvent(ctx, "TokenCreated", {
      tokenId: cmd.tokenId,
      ...(cmd.name === undefined ? {} : { name: cmd.name }),
      project: cmd.project,
      envs: [...new Set(cmd.envs)],
      role: cmd.role,
      hash: cmd.hash,
      ...(cmd.expiresAt === undefined ? {} : { expiresAt: cmd.expiresAt }),
    }),
  ]);
};

/** An unknown token is a rejection; one revoked already decides nothing. */
export const revokeToken: Handler<"RevokeToken"> = (cmd, m, ctx) => {
  const t = m.token(cmd.tokenId);
  if (!t) return reject({ _tag: "UnknownToken", tokenId: cmd.tokenId });
  if (t.revoked) return none;
  return accept([envEvent(ctx, "TokenRevoked", { tokenId: cmd.tokenId, ...(cmd.reason === undefined ? {} : { reason: cmd.reason }) })]);
};

export const tokens: Handlers<"CreateToken" | "RevokeToken"> = {
  CreateToken: createToken,
  RevokeToken: revokeToken,
};
