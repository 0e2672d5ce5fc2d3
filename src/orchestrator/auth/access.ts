/**
 * Who may do what, at run time: the server log's tokens (an orchestrator of
 * their own on `SERVER_LOG`, folding `TOKEN_PROJECTIONS`) and, with
 * `--auth`, the check of every request's credential against what its route
 * needs (the pure rules are `core/authorize.ts`).
 *
 * Without `--auth` (`adminHash` absent) nothing is checked and every caller
 * may do everything, token routes included: tokens can be made before auth
 * is switched on. With it, a caller is the bootstrap admin (the hash of the
 * whole text matches) or a token (its id looked up, the hash of its secret
 * compared in constant time); anything else is a 401.
 */
import { timingSafeEqual } from "node:crypto";
import { SERVER_LOG, type EventLog, type Principal, type ProjectName, type TokenRole } from "../../events/index.js";
import { getToken, listTokens, TOKEN_PROJECTIONS, type TokenDoc } from "../../projections/index.js";
import type { CreatedTokenAnswer, TokenAnswer } from "../../protocol/api.js";
import {
  authorize,
  credentialRefusal,
  delegationRefusal,
  unauthenticated,
  withinReach,
  type Forbidden,
  type Need,
  type Unauthenticated,
} from "../core/index.js";
import { Refused } from "../environments.js";
import { EnvRuntime } from "../runtime.js";
import { hashOf, mintToken, parseToken, secretMatches } from "./token.js";

/** An authenticated caller: the admin (no token), or a token's holder. */
export interface Caller {
  readonly principal: Principal;
  readonly token?: TokenDoc;
}

/** A refusal to answer with its status: 401 (who are you?) or 403 (not that). */
export interface Denied {
  readonly status: 401 | 403;
  readonly message: string;
  /** 401: why the credential is none. */
  readonly reason?: Unauthenticated["reason"];
  /** 403: what it lacks. */
  readonly lacks?: Forbidden["lacks"];
}

export interface AccessOptions {
  readonly log: EventLog;
  /** Directory of the server log's projection store. */
  readonly storePath: string;
  /** Hex SHA-256 of the admin credential: `--auth`. Absent: nothing is checked. */
  readonly adminHash?: string;
  readonly clock?: () => number;
  readonly onNotice: (message: string) => void;
}

/** What a new token asks for (the checked body of `POST …/tokens`). */
export interface TokenRequest {
  readonly role: TokenRole;
  readonly envs?: readonly string[];
  readonly name?: string;
  readonly expiresInMs?: number;
}

/** A {@link Denied} thrown: the edge answers it with its status. */
export class AccessDenied extends Error {
  override readonly name = "AccessDenied";
  readonly status: 401 | 403;
  readonly reason?: Unauthenticated["reason"];
  readonly lacks?: Forbidden["lacks"];
  constructor(d: Denied) {
    super(d.message);
    this.status = d.status;
    if (d.reason) this.reason = d.reason;
    if (d.lacks) this.lacks = d.lacks;
  }
}

/** Tokens are made only by a server that checks them. */
export class TokensNeedAuth extends Error {
  override readonly name = "TokensNeedAuth";
  readonly status = 409;
  constructor() {
    super("this server checks no credentials (it was started without --auth): start it with --auth, then make tokens with its admin token");
  }
}

const FOLLOW_EVERY_MS = 1000;

const BEARER = /^bearer[ \t]+(\S+)[ \t]*$/i;

const denied = (a: Unauthenticated | Forbidden): Denied =>
  a.status === 401 ? { status: 401, message: a.message, reason: a.reason } : { status: 403, message: a.message, lacks: a.lacks };

export const tokenAnswer = (t: TokenDoc): TokenAnswer => ({
  tokenId: t.tokenId,
  ...(t.name === undefined ? {} : { name: t.name }),
  project: t.project,
  envs: t.envs,
  role: t.role,
  createdAt: t.createdAt,
  ...(t.expiresAt === undefined ? {} : { expiresAt: t.expiresAt }),
  ...(t.by === undefined ? {} : { by: t.by }),
  ...(t.revoked === undefined ? {} : { revoked: t.revoked }),
});

export class Access {
  private readonly clock: () => number;
  private readonly adminHash: Buffer | undefined;

  private readonly notice: (message: string) => void;

  private constructor(
    private readonly rt: EnvRuntime,
    o: AccessOptions,
  ) {
    this.clock = o.clock ?? Date.now;
    this.notice = o.onNotice;
    this.adminHash = o.adminHash === undefined ? undefined : Buffer.from(o.adminHash, "hex");
    rt.onCommitted((commit) => {
      if (commit.events.some((e) => e.type === "TokenRevoked")) this.tell();
    });
    // Only a shared log can have other writers; the embedded one is this server's alone (its data directory's lock).
    if (o.log.kind === "jetstream") this.followOthers();
  }

  /** Opens the server log and its projections (made on first use). */
  static async open(o: AccessOptions): Promise<Access> {
    const rt = new EnvRuntime({ log: o.log, ref: SERVER_LOG, storePath: o.storePath, onNotice: o.onNotice, projections: TOKEN_PROJECTIONS });
    await rt.start();
    return new Access(rt, o);
  }

  /** Does the server check credentials (`--auth`)? */
  get enabled(): boolean {
    return this.adminHash !== undefined;
  }

  /**
   * Who presents `authorization` (the value of an `Authorization` header,
   * `Bearer <token>`). Only for the credential itself: a revoked or expired
   * token is refused here, whatever is asked of it.
   */
  identify(authorization: string | undefined): Caller | Denied {
    const refused = (reason: Unauthenticated["reason"], detail?: string) => denied(unauthenticated(reason, detail) as Unauthenticated);
    if (authorization === undefined || authorization.trim() === "") return refused("missing");
    const m = BEARER.exec(authorization);
    if (!m) return refused("malformed", "expected the header 'Authorization: Bearer <token>'");
    const text = m[1]!;
    if (this.adminHash && this.isAdmin(text)) return { principal: { kind: "admin" } };
    const parsed = parseToken(text);
    if (!parsed) return refused("malformed");
    const doc = getToken(this.rt.source, parsed.tokenId);
    // A known id with the wrong secret is as unknown as an id never made: nothing is said of which.
    const token = doc && secretMatches(parsed.secret, doc.hash) ? doc : undefined;
    const refusal = credentialRefusal(token, this.clock());
    if (refusal || !token) return denied(refusal ?? (unauthenticated("unknown") as Unauthenticated));
    return { principal: { kind: "token", tokenId: token.tokenId, ...(token.name === undefined ? {} : { name: token.name }) }, token };
  }

  /** May `caller` do what `need` asks (now: a token may have expired or been revoked since it was identified)? */
  permit(caller: Caller, need: Need): Denied | undefined {
    if (!caller.token) return undefined; // the admin
    const a = authorize(getToken(this.rt.source, caller.token.tokenId), this.clock(), need);
    return a.ok ? undefined : denied(a as Unauthenticated | Forbidden);
  }

  private isAdmin(text: string): boolean {
    const h = Buffer.from(hashOf(text), "hex");
    return h.length === this.adminHash!.length && timingSafeEqual(h, this.adminHash!);
  }

  /** The project's tokens that `caller` reaches (every one for the admin, or without --auth). */
  list(caller: Caller | undefined, project: ProjectName): TokenAnswer[] {
    return listTokens(this.rt.source)
      .filter((t) => t.project === project && (!caller?.token || withinReach(caller.token, t)))
      .map(tokenAnswer);
  }

  /** A new token of `project`, within the reach of `caller`. Its text is in the answer, and nowhere else. */
  async create(caller: Caller | undefined, project: ProjectName, want: TokenRequest): Promise<CreatedTokenAnswer> {
    // Made by anyone who reaches an open server, a token would be waiting for the day --auth is switched on.
    if (!this.enabled) throw new TokensNeedAuth();
    const now = this.clock();
    // Absent: every environment, or for a token, those of its maker.
    const envs = want.envs ?? caller?.token?.envs ?? ["*"];
    let expiresAt = want.expiresInMs === undefined ? undefined : now + want.expiresInMs;
    if (caller?.token) {
      // Absent: no later than the creator's own expiry.
      if (expiresAt === undefined && caller.token.expiresAt !== undefined) expiresAt = caller.token.expiresAt;
      const wider = delegationRefusal(caller.token, { envs, ...(expiresAt === undefined ? {} : { expiresAt }) });
      if (wider) throw new AccessDenied(denied(wider));
    }
    const minted = mintToken();
    const r = await this.rt.execute({
      type: "CreateToken",
      tokenId: minted.tokenId,
      ...(want.name === undefined ? {} : { name: want.name }),
      project,
      envs,
      role: want.role,
      hash: minted.hash,
      ...(expiresAt === undefined ? {} : { expiresAt }),
    }, { by: caller?.principal });
    if (!r.ok) throw new Refused(r.rejection);
    const doc = getToken(this.rt.source, minted.tokenId);
    if (!doc) throw new Error(`token ${minted.tokenId} was recorded but is not in the projection`);
    return { ...tokenAnswer(doc), token: minted.token };
  }

  /** Revokes a token of `project` within the reach of `caller`. Revoking one revoked already changes nothing. */
  async revoke(caller: Caller | undefined, project: ProjectName, tokenId: string, reason?: string): Promise<TokenAnswer> {
    const doc = getToken(this.rt.source, tokenId);
    // Another project's token, or one out of reach, is as unknown as one never made.
    if (!doc || doc.project !== project || (caller?.token && !withinReach(caller.token, doc))) {
      throw new Refused({ _tag: "UnknownToken", tokenId });
    }
    const r = await this.rt.execute({ type: "RevokeToken", tokenId, ...(reason === undefined ? {} : { reason }) }, { by: caller?.principal });
    if (!r.ok) throw new Refused(r.rejection);
    return tokenAnswer(getToken(this.rt.source, tokenId)!);
  }

  /**
   * Calls `f` whenever tokens may have changed (a revocation here, or what
   * another server appended to the shared server log): sessions and
   * streams then check that their token is still {@link live}. Returns
   * the way to stop.
   */
  onChange(f: () => void): () => void {
    this.changed.add(f);
    return () => this.changed.delete(f);
  }

  private readonly changed = new Set<() => void>();

  private tell(): void {
    for (const f of [...this.changed]) f();
  }

  /** Takes in, every second, what other servers on the same NATS appended to the server log (tokens they made or revoked). */
  private followOthers(): void {
    this.following = setInterval(() => {
      void this.rt.follow().then(
        (took) => took && this.tell(),
        (e: unknown) => this.notice(`auth: reading the server log failed (${(e as Error).message}); retrying`),
      );
    }, FOLLOW_EVERY_MS);
    this.following.unref();
  }

  private following: NodeJS.Timeout | undefined;

  /** Is token `tokenId` a valid credential now (made, not revoked, not expired)? */
  live(tokenId: string): boolean {
    return this.refusal(tokenId) === undefined;
  }

  /** Why token `tokenId` is no valid credential now (unknown, revoked, expired), or `undefined`. */
  refusal(tokenId: string): Denied | undefined {
    const r = credentialRefusal(getToken(this.rt.source, tokenId), this.clock());
    return r && denied(r);
  }

  /** The token `tokenId` now (for sessions that hold one: revoked since?). */
  token(tokenId: string): TokenDoc | undefined {
    return getToken(this.rt.source, tokenId);
  }

  close(): Promise<void> {
    clearInterval(this.following);
    return this.rt.close();
  }
}
