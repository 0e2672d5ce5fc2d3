/** The bootstrap admin credential: from the environment, from its file, or made once (mode 0600). Real files in a temp directory. */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { adminCredential, AdminTokenRefused } from "../../src/orchestrator/auth/admin.js";
import { hashOf } from "../../src/orchestrator/auth/token.js";

const dirs: string[] = [];
const dir = () => {
  const d = mkdtempSync(join(tmpdir(), "trib-admin-"));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("adminCredential", () => {
  it("takes the given text, keeps only its hash and writes nothing", () => {
    const d = dir();
    const said: string[] = [];
    const text = "x".repeat(12) + "Y".repeat(12);
    expect(adminCredential(d, text, (m) => said.push(m))).toEqual({ hash: hashOf(text), source: "environment" });
    expect(() => statSync(join(d, "admin-token"))).toThrow(/ENOENT/);
    expect(said.join("\n")).not.toContain(text);
  });

  it.each([
    ["short", /it is 5 characters; give at least 24/],
    ["with a space in it, long enough", /only printable ASCII characters, no spaces/],
    ["é".repeat(30), /only printable ASCII/],
  ])("refuses %j from the environment", (text, error) => {
    expect(() => adminCredential(dir(), text, () => {})).toThrow(AdminTokenRefused);
    expect(() => adminCredential(dir(), text, () => {})).toThrow(error);
  });

  it("makes one on the first start, says it once, in a file of mode 0600; later starts read it and say only where", () => {
    const d = dir();
    const first: string[] = [];
    const made = adminCredential(d, undefined, (m) => first.push(m));
    const file = join(d, "admin-token");
    const text = readFileSync(file, "utf8").trim();
    expect(text).toMatch(/^trib_[0-9a-z]{16}_[0-9a-z]{52}_[0-9a-z]{6}$/);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(made).toEqual({ hash: hashOf(text), source: "generated", file });
    expect(first.join("\n")).toContain(text);

    const again: string[] = [];
    expect(adminCredential(d, undefined, (m) => again.push(m))).toEqual({ hash: hashOf(text), source: "file", file });
    expect(again).toEqual([`auth: the admin token is in ${file}`]);
  });

  it("sets a file readable by others back to 0600, saying so", () => {
    const d = dir();
    const file = join(d, "admin-token");
    writeFileSync(file, "a-long-enough-admin-token-text\n");
    chmodSync(file, 0o644);
    const said: string[] = [];
    adminCredential(d, undefined, (m) => said.push(m));
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(said[0]).toMatch(/was readable by other users: its mode is now 0600/);
  });

  it("refuses a file that holds no admin token, saying what to do", () => {
    const d = dir();
    writeFileSync(join(d, "admin-token"), "oops\n", { mode: 0o600 });
    expect(() => adminCredential(d, undefined, () => {})).toThrow(/does not hold an admin token: it is 4 characters.*Delete it to have a new one made, or set TRIBUTARY_ADMIN_TOKEN/);
  });
});
