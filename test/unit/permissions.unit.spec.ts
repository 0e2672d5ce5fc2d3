/** Every route says what it asks of a caller, and docs/security.md says the same. */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { PERMISSIONS, ROUTES } from "../../src/protocol/index.js";

const DOC = readFileSync(resolve(import.meta.dirname, "../../docs/security.md"), "utf8");

describe("route permissions", () => {
  it("name every route of ROUTES, and nothing else", () => {
    expect(Object.keys(PERMISSIONS).sort()).toEqual(ROUTES.map((r) => r.name).sort());
  });

  it("only health is public (every other route will need a credential, as issue 10 asks)", () => {
    expect(Object.entries(PERMISSIONS).filter(([, p]) => p === "public").map(([r]) => r)).toEqual(["health"]);
  });

  it.each(ROUTES.map((r) => [r.name, r.method, PERMISSIONS[r.name]] as const))("docs/security.md lists %s (%s) as %s", (name, method, permission) => {
    const row = DOC.split("\n").find((l) => l.startsWith(`| \`${name}\` |`));
    expect(row, `a row for ${name} in docs/security.md`).toBeDefined();
    expect(row).toMatch(new RegExp(`\\| ${method} \`[^\`]+\` \\| ${permission} \\|$`));
  });
});
