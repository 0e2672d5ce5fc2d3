import { readdirSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { TIERS } from "../../vitest.config.js";

const TEST = resolve(import.meta.dirname, "..");

const specFiles = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? (d.name === "node_modules" ? [] : specFiles(join(dir, d.name))) : d.name.endsWith(".spec.ts") ? [join(dir, d.name)] : [],
  );

describe("the test tiers", () => {
  it("every spec file under test/ is run by exactly one tier", () => {
    const files = specFiles(TEST).map((f) => relative(TEST, f));
    expect(files.length).toBeGreaterThan(20);
    const tierOf = (file: string) => Object.entries(TIERS).filter(([, t]) => (t.dirs as readonly string[]).includes(file.split("/")[0]!)).map(([n]) => n);
    const outside = files.filter((f) => tierOf(f).length !== 1);
    expect(outside).toEqual([]);
    expect(files.some((f) => tierOf(f)[0] === "unit") && files.some((f) => tierOf(f)[0] === "int") && files.some((f) => tierOf(f)[0] === "e2e")).toBe(true);
  });
});
