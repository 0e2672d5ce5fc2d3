/**
 * Who may do what: a token's document against what a request needs. Pure:
 * the edge parses the presented text (`auth/token.ts`), finds the token
 * (by id, comparing the secret's hash in constant time) and passes the time.
 *
 * Roles: `read` ⊂ `submit` ⊂ `admin` for the `read` and `submit`
 * permissions; `agent` grants the `agent` permission only; `admin` grants
 * everything, `agent` included. A need without `env` is about the project
 * as a whole (its list of environments, its tokens): only a token for every
 * environment of it (`*`) has it.
 */
import type { TokenDoc } from "../../projections/index.js";
import { coversAll, coversEnv, patternWithin } from "../../protocol/env-patterns.js";
import { GRANTS, type RolePermission } from "../../protocol/permissions.js";

export type { RolePermission } from "../../protocol/permissions.js";
export { GRANTS } from "../../protocol/permissions.js";

/** What a request needs. */
export interface Need {
  readonly permission: RolePermission;
  readonly project: string;
  /** Absent: the project as a whole. */
  readonly env?: string;
  /**
   * Any environment of the project will do: only the project and the role
   * are checked here (the token routes, which then keep each caller to the
   * tokens within its own reach: {@link delegationRefusal}).
   */
  readonly anyEnv?: true;
}

/** Why no principal could be established: 401. */
export type Unauthenticated = {
  readonly status: 401;
  readonly reason: "missing" | "malformed" | "unknown" | "expired" | "revoked";
  readonly message: string;
};
/** A valid token that does not reach this far: 403, naming what it lacks. */
export type Forbidden = {
  readonly status: 403;
  readonly lacks: "project" | "environment" | "role" | "expiry";
  readonly message: string;
};
export type Authorization = { readonly ok: true; readonly token: TokenDoc } | ({ readonly ok: false } & (Unauthenticated | Forbidden));

const UNAUTHENTICATED: { readonly [R in Unauthenticated["reason"]]: string } = {
  missing: "no token: give one with --token or TRIBUTARY_TOKEN (an 'Authorization: Bearer' header over HTTP)",
  malformed: "that is not a Tributary token (trib_<id>_<secret>_<check>): check it was copied whole",
  unknown: "unknown token: it was never created on this server",
  expired: "the token has expired: ask an admin for a new one",
  revoked: "the token was revoked: ask an admin for a new one",
};

/** The 401 of `reason`, for the edge (missing, malformed) and for {@link authorize}. */
export const unauthenticated = (reason: Unauthenticated["reason"], detail?: string): Authorization => ({
  ok: false,
  status: 401,
  reason,
  message: detail === undefined ? UNAUTHENTICATED[reason] : `${UNAUTHENTICATED[reason]} (${detail})`,
});

const forbidden = (lacks: Forbidden["lacks"], message: string): Authorization => ({ ok: false, status: 403, lacks, message });

/** Why `token` (undefined: none with that id) is no credential at time `now` (unknown, revoked, expired), or `undefined`: it is one. */
export const credentialRefusal = (token: TokenDoc | undefined, now: number): (Unauthenticated & { readonly ok: false }) | undefined => {
  const refused = (r: Authorization) => r as Unauthenticated & { readonly ok: false };
  if (!token) return refused(unauthenticated("unknown"));
  if (token.revoked) return refused(unauthenticated("revoked", `token ${token.tokenId}`));
  if (token.expiresAt !== undefined && now >= token.expiresAt) {
    return refused(unauthenticated("expired", `token ${token.tokenId}, at ${new Date(token.expiresAt).toISOString()}`));
  }
  return undefined;
};

/** Whether `token` (undefined: none with that id) may do what `need` asks at time `now`. */
export const authorize = (token: TokenDoc | undefined, now: number, need: Need): Authorization => {
  const refusal = credentialRefusal(token, now);
  if (refusal || !token) return refusal ?? unauthenticated("unknown");
  const who = `token ${token.tokenId}${token.name ? ` (${token.name})` : ""}`;
  if (token.project !== need.project) return forbidden("project", `${who} is for project ${token.project}, not ${need.project}`);
  if (need.anyEnv ? false : need.env === undefined ? !coversAll(token.envs) : !coversEnv(token.envs, need.env)) {
    const where = need.env === undefined ? `every environment of ${need.project}` : `environment ${need.project}/${need.env}`;
    return forbidden("environment", `${who} covers ${token.envs.join(", ")} of ${token.project}, not ${where}`);
  }
  if (!GRANTS[need.permission].includes(token.role)) {
    return forbidden("role", `${who} has role ${token.role}; this needs ${GRANTS[need.permission].join(" or ")}`);
  }
  return { ok: true, token };
};

/** What a new token would reach. */
export interface Reach {
  readonly envs: readonly string[];
  readonly expiresAt?: number;
}

/**
 * Why `creator` (an admin token of the project) may not hand out a token
 * reaching `want`, or `undefined` when it may: no token makes one wider
 * than itself. Every pattern must lie within the creator's, and a creator
 * that expires makes only tokens that expire no later (`expiresAt` absent
 * here is refused: the edge caps it at the creator's first).
 */
export const delegationRefusal = (creator: TokenDoc, want: Reach): Forbidden | undefined => {
  const who = `token ${creator.tokenId}${creator.name ? ` (${creator.name})` : ""}`;
  const outside = want.envs.filter((p) => !patternWithin(p, creator.envs));
  if (outside.length > 0) {
    return { status: 403, lacks: "environment", message: `${who} covers ${creator.envs.join(", ")}: it cannot give ${outside.join(", ")}` };
  }
  if (creator.expiresAt !== undefined && (want.expiresAt === undefined || want.expiresAt > creator.expiresAt)) {
    return {
      status: 403,
      lacks: "expiry",
      message: `${who} expires at ${new Date(creator.expiresAt).toISOString()}: it cannot give a token that outlives it`,
    };
  }
  return undefined;
};

/** Is a token of `reach` within what `creator` covers (for listing and revoking)? */
export const withinReach = (creator: TokenDoc, reach: Reach): boolean => reach.envs.every((p) => patternWithin(p, creator.envs));
