import { describe, expect, it } from "vitest";
import { isWatchedFile, watchedDirs } from "../../src/agent/watch.js";

describe("what tributary agent --watch watches", () => {
  it("the directories of the modules, one inside another left to the outer", () => {
    expect(watchedDirs(["/p/flows.ts", "/p/sub/more.ts", "/p/sub/deeper/x.ts", "/q/other.ts", "/pq/y.ts"])).toEqual(["/p", "/pq", "/q"]);
  });

  it("source files, not under node_modules or a dot-directory", () => {
    for (const f of ["flows.ts", "lib/helper.mts", "a.js", "b.cjs", "conf.json", "x.tsx"]) expect(isWatchedFile(f), f).toBe(true);
    for (const f of ["node_modules/x/index.js", ".git/index", ".cache/a.ts", "notes.md", "data.csv", "flows.ts~"]) expect(isWatchedFile(f), f).toBe(false);
  });
});
