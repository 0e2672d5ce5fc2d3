import { describe, expect, it } from "vitest";
import type { ProjectName, TokenRole } from "../../src/events/index.js";
import type { TokenDoc } from "../../src/projections/index.js";
import { authorize, coversEnv, delegationRefusal, patternMatches, patternWithin, unauthenticated, withinReach, type Need } from "../../src/orchestrator/core/index.js";

const NOW = 1_700_000_000_000;
const token = (o: Partial<TokenDoc> = {}): TokenDoc => ({
  tokenId: "t1",
  project: "shop" as ProjectName,
  envs: ["*"],
  role: "admin",
  hash: "ab".repeat(32),
  createdAt: NOW - 1000,
  ...o,
});
/** What a request needs in project `shop`: in environment `env` (`null`: the project as a whole). */
const need = (permission: TokenRole, env: string | null = "dev"): Need => ({ permission, project: "shop", ...(env === null ? {} : { env }) });

describe("authorize: roles", () => {
  // role × permission, written out: read ⊂ submit ⊂ admin; agent only agent; admin everything.
  const MATRIX: readonly (readonly [TokenRole, TokenRole, boolean])[] = [
    ["read", "read", true],
    ["read", "submit", false],
    ["read", "agent", false],
    ["read", "admin", false],
    ["submit", "read", true],
    ["submit", "submit", true],
    ["submit", "agent", false],
    ["submit", "admin", false],
    ["agent", "read", false],
    ["agent", "submit", false],
    ["agent", "agent", true],
    ["agent", "admin", false],
    ["admin", "read", true],
    ["admin", "submit", true],
    ["admin", "agent", true],
    ["admin", "admin", true],
  ];

  it.each(MATRIX)("a %s token asking for %s: allowed %s", (role, permission, allowed) => {
    const r = authorize(token({ role }), NOW, need(permission));
    if (allowed) expect(r).toStrictEqual({ ok: true, token: token({ role }) });
    else {
      expect(r).toMatchObject({ ok: false, status: 403, lacks: "role" });
      if (!r.ok) expect(r.message).toContain(`has role ${role}; this needs`);
    }
  });
});

describe("authorize: project and environment", () => {
  it("refuses a token of another project with 403, naming both projects", () => {
    const r = authorize(token(), NOW, { permission: "read", project: "bank", env: "dev" });
    expect(r).toMatchObject({ ok: false, status: 403, lacks: "project" });
    if (!r.ok) expect(r.message).toBe("token t1 is for project shop, not bank");
  });

  it.each([
    // patterns, environment, covered
    [["dev"], "dev", true],
    [["dev"], "dev-alice", false],
    [["dev-*"], "dev-alice", true],
    [["dev-*"], "dev", false],
    [["dev-*"], "devops", false],
    [["dev", "dev-*"], "dev", true],
    [["dev", "dev-*"], "dev-alice", true],
    [["dev", "dev-*"], "production", false],
    [["dev*"], "dev", true],
    [["dev*"], "devops", true],
    [["*"], "production", true],
  ] as const)("patterns %j cover %s: %s", (envs, env, covered) => {
    expect(coversEnv(envs, env)).toBe(covered);
    const r = authorize(token({ envs, role: "submit" }), NOW, need("submit", env));
    if (covered) expect(r.ok).toBe(true);
    else expect(r).toMatchObject({ ok: false, status: 403, lacks: "environment" });
  });

  it("names the patterns and the environment it lacks", () => {
    const r = authorize(token({ envs: ["dev-*"], name: "alice" }), NOW, need("read", "production"));
    if (r.ok) throw new Error("allowed");
    expect(r.message).toBe("token t1 (alice) covers dev-* of shop, not environment shop/production");
  });

  it("the project as a whole (no environment) needs a token for every environment", () => {
    expect(authorize(token({ envs: ["*"] }), NOW, need("admin", null)).ok).toBe(true);
    expect(authorize(token({ envs: ["dev", "dev-*"] }), NOW, need("admin", null))).toMatchObject({ ok: false, status: 403, lacks: "environment" });
  });

  it("a pattern does not match across the prefix: dev-* is not de*", () => {
    expect(patternMatches("dev-*", "dev-")).toBe(true);
    expect(patternMatches("dev-*", "de")).toBe(false);
  });
});

describe("authorize: who the token is", () => {
  it("no token document: 401 unknown", () => {
    expect(authorize(undefined, NOW, need("read"))).toMatchObject({ ok: false, status: 401, reason: "unknown" });
  });

  it.each([
    ["missing", "--token"],
    ["malformed", "copied whole"],
  ] as const)("the edge's %s: 401 saying what to do", (reason, hint) => {
    const r = unauthenticated(reason);
    expect(r).toMatchObject({ ok: false, status: 401, reason });
    if (!r.ok) expect(r.message).toContain(hint);
  });

  it.each([
    // expiresAt relative to now, expired
    [1, false],
    [0, true],
    [-1, true],
  ])("a token expiring at now%+d ms is expired: %s", (delta, expired) => {
    const r = authorize(token({ expiresAt: NOW + delta }), NOW, need("read"));
    if (expired) expect(r).toMatchObject({ ok: false, status: 401, reason: "expired" });
    else expect(r.ok).toBe(true);
  });

  it("a revoked token: 401 revoked, whatever its scope, even before its expiry", () => {
    const r = authorize(token({ revoked: { at: NOW - 1 }, expiresAt: NOW + 1000 }), NOW, need("read"));
    expect(r).toMatchObject({ ok: false, status: 401, reason: "revoked" });
    if (!r.ok) expect(r.message).toContain("token t1");
  });

  it("a revoked or expired token is refused before its scope is looked at (401, not 403)", () => {
    expect(authorize(token({ revoked: { at: NOW - 1 } }), NOW, { permission: "read", project: "bank" })).toMatchObject({ status: 401 });
    expect(authorize(token({ expiresAt: NOW - 1 }), NOW, { permission: "read", project: "bank" })).toMatchObject({ status: 401 });
  });
});

describe("authorize: download and any environment", () => {
  it.each([
    ["read", true],
    ["submit", true],
    ["agent", true],
    ["admin", true],
  ] as const)("download (a blob's bytes) is granted to %s: %s", (role, allowed) => {
    expect(authorize(token({ role }), NOW, { permission: "download", project: "shop", env: "dev" }).ok).toBe(allowed);
  });

  it("anyEnv checks the project and the role, not the environments", () => {
    const t = token({ envs: ["dev-*"], role: "admin" });
    expect(authorize(t, NOW, { permission: "admin", project: "shop", anyEnv: true }).ok).toBe(true);
    // Without it, a need about the project as a whole asks for `*`.
    expect(authorize(t, NOW, need("admin", null))).toMatchObject({ ok: false, status: 403, lacks: "environment" });
    expect(authorize(t, NOW, { permission: "admin", project: "other", anyEnv: true })).toMatchObject({ ok: false, lacks: "project" });
    expect(authorize(token({ envs: ["dev-*"], role: "read" }), NOW, { permission: "admin", project: "shop", anyEnv: true })).toMatchObject({
      ok: false,
      lacks: "role",
    });
  });
});

describe("patternWithin: does a pattern lie inside a list of them", () => {
  it.each([
    ["dev-a", ["dev-*"], true],
    ["dev-a*", ["dev-*"], true],
    ["dev-*", ["dev-*"], true],
    ["dev*", ["dev-*"], false], // dev* covers dev, which dev-* does not
    ["dev", ["dev-*"], false],
    ["dev", ["dev", "dev-*"], true],
    ["*", ["dev-*"], false],
    ["*", ["*"], true],
    ["anything", ["*"], true],
    ["dev-*", ["dev-a"], false], // an exact name never covers a prefix
    ["dev-a", ["dev-a"], true],
  ] as const)("%s within %j: %s", (pattern, patterns, within) => {
    expect(patternWithin(pattern, patterns)).toBe(within);
  });
});

describe("delegationRefusal: no token makes a wider one", () => {
  const creator = token({ envs: ["dev-*"], name: "team" });

  it("allows patterns within the creator's", () => {
    expect(delegationRefusal(creator, { envs: ["dev-a", "dev-b*"] })).toBeUndefined();
    expect(withinReach(creator, { envs: ["dev-a"] })).toBe(true);
  });

  it("refuses a pattern outside, naming it", () => {
    expect(delegationRefusal(creator, { envs: ["dev-a", "prod"] })).toEqual({
      status: 403,
      lacks: "environment",
      message: "token t1 (team) covers dev-*: it cannot give prod",
    });
    expect(withinReach(creator, { envs: ["*"] })).toBe(false);
  });

  it("keeps a creator that expires from making a token that outlives it", () => {
    const brief = token({ envs: ["*"], expiresAt: NOW + 60_000 });
    expect(delegationRefusal(brief, { envs: ["dev"], expiresAt: NOW + 30_000 })).toBeUndefined();
    expect(delegationRefusal(brief, { envs: ["dev"], expiresAt: NOW + 60_000 })).toBeUndefined();
    expect(delegationRefusal(brief, { envs: ["dev"], expiresAt: NOW + 60_001 })).toMatchObject({ status: 403, lacks: "expiry" });
    expect(delegationRefusal(brief, { envs: ["dev"] })).toMatchObject({ lacks: "expiry" });
  });
});
