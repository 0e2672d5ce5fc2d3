import { describe, expect, it } from "vitest";
import { NOW, attributed, envEvent, given, type SpecCommand } from "../support/decider-spec.js";

const HASH = "ab".repeat(32);
const OTHER_HASH = "cd".repeat(32);
const create = (o: Partial<Extract<SpecCommand, { type: "CreateToken" }>> = {}): SpecCommand => ({
  type: "CreateToken",
  tokenId: "t1",
  project: "shop",
  envs: ["dev-*"],
  role: "submit",
  hash: HASH,
  ...o,
});
const created = (tokenId = "t1", hash = HASH) => envEvent("TokenCreated", { tokenId, project: "shop", envs: ["dev-*"], role: "submit", hash });

describe("tokens: CreateToken", () => {
  it("records the token with the hash of its secret, its scope and role, and every optional field given", () => {
    given().when(create()).then(created());
    given()
      .when(create({ name: "ci", envs: ["dev", "dev-*", "dev"], role: "admin", expiresAt: NOW + 1 }))
      .then(envEvent("TokenCreated", { tokenId: "t1", name: "ci", project: "shop", envs: ["dev", "dev-*"], role: "admin", hash: HASH, expiresAt: NOW + 1 }));
  });

  it("records who made it on the envelope, and the model's token says so", () => {
    const admin = { kind: "admin" } as const;
    const m = given().by(admin).when(create()).then(...attributed(admin, created()));
    expect(m.token("t1")?.by).toStrictEqual(admin);
    const byToken = { kind: "token", tokenId: "k1", name: "ops" } as const;
    given().by(byToken).when({ type: "RevokeToken", tokenId: "t1" }).rejected("UnknownToken");
    given(created()).by(byToken).when({ type: "RevokeToken", tokenId: "t1" }).then(...attributed(byToken, envEvent("TokenRevoked", { tokenId: "t1" })));
    expect(given(created()).model().token("t1")?.by).toBeUndefined();
  });

  it("the model finds it by id after its creation, and says when it is revoked", () => {
    const m = given().when(create()).then(created());
    expect(m.token("t1")).toMatchObject({ tokenId: "t1", role: "submit", hash: HASH, createdAt: NOW });
    expect(m.token("t1")?.revoked).toBeUndefined();
    const after = given(created()).when({ type: "RevokeToken", tokenId: "t1", reason: "leaked" }).then(envEvent("TokenRevoked", { tokenId: "t1", reason: "leaked" }));
    expect(after.token("t1")?.revoked).toStrictEqual({ at: NOW, reason: "leaked" });
  });

  it("refuses an id that exists already, even with another secret", () => {
    given(created()).when(create({ hash: OTHER_HASH })).rejected("TokenExists", { tokenId: "t1" });
  });

  it("refuses an unknown role, listing the roles", () => {
    given().when(create({ role: "owner" })).rejected("UnknownRole", { role: "owner", roles: ["read", "submit", "agent", "admin"] });
  });

  it.each([["dev/*"], ["dev.x"], ["-*"], ["a*b"], ["**"], [""], ["dev_1"]])("refuses the environment pattern %j", (pattern) => {
    given().when(create({ envs: ["dev", pattern] })).rejected("InvalidEnvPattern");
  });

  it("says how to write a prefix when given one with a slash", () => {
    const r = given().when(create({ envs: ["dev/*"] })).rejected("InvalidEnvPattern");
    expect(r.hint).toContain("dev-*");
  });

  it("refuses an empty list of environments, an id that cannot be split out of a token, and a hash that is not SHA-256 hex", () => {
    given().when(create({ envs: [] })).rejected("InvalidArgument");
    given().when(create({ tokenId: "T_1" })).rejected("InvalidArgument");
    given().when(create({ hash: "secret" })).rejected("InvalidArgument");
  });

  it("refuses an expiry now or in the past, accepts one a millisecond later", () => {
    given().when(create({ expiresAt: NOW })).rejected("ExpiryInPast", { expiresAt: NOW, now: NOW });
    given().when(create({ expiresAt: NOW - 1000 })).rejected("ExpiryInPast", { expiresAt: NOW - 1000, now: NOW });
    given()
      .when(create({ expiresAt: NOW + 1 }))
      .then(envEvent("TokenCreated", { tokenId: "t1", project: "shop", envs: ["dev-*"], role: "submit", hash: HASH, expiresAt: NOW + 1 }));
  });
});

describe("tokens: RevokeToken", () => {
  it("revokes a token, with or without a reason", () => {
    given(created()).when({ type: "RevokeToken", tokenId: "t1" }).then(envEvent("TokenRevoked", { tokenId: "t1" }));
  });

  it("refuses an unknown token, naming it", () => {
    given(created()).when({ type: "RevokeToken", tokenId: "t2" }).rejected("UnknownToken", { tokenId: "t2" });
  });

  it("decides nothing for a token revoked already", () => {
    given(created(), envEvent("TokenRevoked", { tokenId: "t1" })).when({ type: "RevokeToken", tokenId: "t1", reason: "again" }).nothing();
  });
});

describe("the server log's project is reserved", () => {
  it("no environment of it can be created or branched", () => {
    const message = 'project name "tributary-server" is reserved for the server\'s own log: choose another';
    given().when({ type: "CreateEnvironment", project: "tributary-server", env: "auth" }).rejected("InvalidName", { message });
    given()
      .when({ type: "BranchEnvironment", project: "tributary-server", env: "x", parent: { env: "auth", lastSeq: 1 }, at: 1 })
      .rejected("InvalidName", { message });
  });
});
