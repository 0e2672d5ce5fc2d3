/**
 * Studio's hint of what a token may do (`callerRefusal`, src/protocol/permissions.ts)
 * against the server's own judge (`authorize` of the core): for every route
 * that asks a role, every role and a few scopes, the hint refuses exactly
 * what the server refuses.
 */
import { describe, expect, it } from "vitest";
import { TOKEN_ROLES, type ProjectName } from "../../src/events/index.js";
import { authorize } from "../../src/orchestrator/core/index.js";
import { tokenAnswer } from "../../src/orchestrator/auth/access.js";
import type { TokenDoc } from "../../src/projections/index.js";
import type { WhoAmIAnswer } from "../../src/protocol/api.js";
import type { RouteName } from "../../src/protocol/http.js";
import { callerRefusal, GRANTS, PERMISSIONS } from "../../src/protocol/permissions.js";

const doc = (role: TokenDoc["role"], envs: string[], project = "shop"): TokenDoc => ({
  tokenId: "t1",
  name: "ci",
  project: project as ProjectName,
  envs,
  role,
  hash: "00",
  createdAt: 0,
});
const whoOf = (t: TokenDoc): WhoAmIAnswer => ({ auth: true, principal: { kind: "token", tokenId: t.tokenId, name: "ci" }, token: tokenAnswer(t) });

describe("callerRefusal", () => {
  const routes = (Object.keys(PERMISSIONS) as RouteName[]).filter((r) => PERMISSIONS[r] !== "public" && PERMISSIONS[r] !== "any");
  const scopes = [["*"], ["dev-*"], ["production"], ["dev", "dev-*"]];
  const envs = ["production", "dev", "dev-alice"];

  it("refuses what the server's authorize refuses, and nothing else", () => {
    let refused = 0;
    let allowed = 0;
    for (const role of TOKEN_ROLES)
      for (const scope of scopes)
        for (const env of envs)
          for (const route of routes) {
            const t = doc(role, scope);
            const p = PERMISSIONS[route] as keyof typeof GRANTS;
            const server = authorize(t, 1, { permission: p, project: "shop", env });
            const hint = callerRefusal(whoOf(t), route, "shop", env);
            expect(hint === undefined, `${role} ${scope.join(",")} ${route} in ${env}: server ${server.ok ? "allows" : "refuses"}, hint ${hint}`).toBe(server.ok);
            if (hint) refused++;
            else allowed++;
          }
    expect(refused).toBeGreaterThan(0);
    expect(allowed).toBeGreaterThan(0);
  });

  it("says the role and the patterns, or the project or environment missing", () => {
    const read = whoOf(doc("read", ["dev-*"]));
    expect(callerRefusal(read, "submitRun", "shop", "dev-a")).toBe(`your token has role read on dev-*; this needs ${GRANTS.submit.join(" or ")}`);
    expect(callerRefusal(read, "getRun", "shop", "production")).toBe("your token covers dev-*, not production");
    expect(callerRefusal(read, "getRun", "other", "dev-a")).toBe("your token is for project shop, not other");
    expect(callerRefusal(read, "getRun", "shop", "dev-a")).toBeUndefined();
  });

  it("without --auth, for the admin, and before whoami is known, refuses nothing", () => {
    expect(callerRefusal({ auth: false }, "createEnv", "shop", "x")).toBeUndefined();
    expect(callerRefusal({ auth: true, principal: { kind: "admin" } }, "createEnv", "shop", "x")).toBeUndefined();
    expect(callerRefusal(undefined, "createEnv", "shop", "x")).toBeUndefined();
  });

  it("with the environment not known yet, weighs the project and the role only", () => {
    const submit = whoOf(doc("submit", ["dev-*"]));
    expect(callerRefusal(submit, "createEnv", "shop")).toContain("has role submit");
    expect(callerRefusal(whoOf(doc("admin", ["dev-*"])), "createEnv", "shop")).toBeUndefined();
  });
});
