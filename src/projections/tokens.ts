/**
 * Tokens, from the server log (`SERVER_LOG`): each token by its id, and an
 * index from the hash of its secret to its id. Neither holds a secret. Not
 * in `PROJECTIONS` (the environments' logs have no tokens): the server log's
 * store folds `TOKEN_PROJECTIONS`. Pure.
 */
import type { DocSource, Projection } from "./projection.js";
import { eventsOfTypes } from "./projection.js";
import type { Principal, ProjectName, TokenRole } from "../events/index.js";

export interface TokenDoc {
  readonly tokenId: string;
  readonly name?: string;
  readonly project: ProjectName;
  /** Environment patterns: an exact name, or a prefix ending in `*`. */
  readonly envs: readonly string[];
  readonly role: TokenRole;
  /** Hex SHA-256 of the secret. */
  readonly hash: string;
  readonly createdAt: number;
  readonly expiresAt?: number;
  /** Who made it (the envelope of its `TokenCreated`). */
  readonly by?: Principal;
  /** Set once revoked. */
  readonly revoked?: { readonly at: number; readonly reason?: string };
}

export interface TokenHashDoc {
  readonly tokenId: string;
}

const follows = eventsOfTypes(["TokenCreated", "TokenRevoked"]);

export const tokensProjection: Projection<TokenDoc> = {
  name: "tokens",
  version: 2,
  keysOf: (e) => (follows(e) ? [e.data.tokenId] : []),
  evolve(doc, e) {
    if (e.type === "TokenCreated") {
      if (doc) return doc; // a token id is created once: the decider refuses a second
      const d = e.data;
      return {
        tokenId: d.tokenId,
        ...(d.name === undefined ? {} : { name: d.name }),
        project: d.project,
        envs: d.envs,
        role: d.role,
        hash: d.hash,
        createdAt: e.at,
        ...(d.expiresAt === undefined ? {} : { expiresAt: d.expiresAt }),
        ...(e.by === undefined ? {} : { by: e.by }),
      };
    }
    if (e.type === "TokenRevoked") {
      if (!doc || doc.revoked) return doc;
      return { ...doc, revoked: { at: e.at, ...(e.data.reason === undefined ? {} : { reason: e.data.reason }) } };
    }
    return doc;
  },
};

/** Hash of a secret → the token it belongs to. */
export const tokenHashesProjection: Projection<TokenHashDoc> = {
  name: "token-hashes",
  version: 1,
  keysOf: (e) => (e.type === "TokenCreated" ? [e.data.hash] : []),
  evolve: (doc, e) => (doc ?? (e.type === "TokenCreated" ? { tokenId: e.data.tokenId } : doc)),
};

/** What the server log's store folds. */
export const TOKEN_PROJECTIONS = [tokensProjection, tokenHashesProjection] as const;

export const getToken = (src: DocSource, tokenId: string): TokenDoc | undefined => src.get<TokenDoc>("tokens", tokenId);

/** The token whose secret has this hash. */
export const tokenByHash = (src: DocSource, hash: string): TokenDoc | undefined => {
  const h = src.get<TokenHashDoc>("token-hashes", hash);
  return h ? getToken(src, h.tokenId) : undefined;
};

/** Every token, by id. */
export const listTokens = (src: DocSource): TokenDoc[] => [...src.range<TokenDoc>("tokens")].map(([, d]) => d);
