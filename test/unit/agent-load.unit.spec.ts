/**
 * Worker threads import the SDK (task code imports the package root): it
 * must not load the schema library, which only the agent's connection needs
 * (loaded on its first connection).
 */
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");
const run = (code: string) =>
  spawnSync(process.execPath, ["--import", "tsx", "--import", resolve(import.meta.dirname, "fixtures/report-typebox.mjs"), "--input-type=module", "-e", code], {
    cwd: ROOT,
    encoding: "utf8",
  });

describe("what the SDK loads", () => {
  it("the package root and the wire protocol load no schema library; the connection's check does", () => {
    const sdk = run(`await import("./src/index.ts"); await import("./src/protocol/messages.ts"); console.log("ok");`);
    expect(sdk.stdout.trim()).toBe("ok");
    expect(sdk.stderr).not.toContain("LOADED");
    const conn = run(`const c = await import("./src/agent/connection.ts"); await c.loadServerMessageCheck(); console.log("ok");`);
    expect(conn.stdout.trim()).toBe("ok");
    expect(conn.stderr).toContain("LOADED");
  });
});
