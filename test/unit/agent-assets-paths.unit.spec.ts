/** Path safety of assets: what persist may read, where restore may write. */
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readlink, realpath, rm, symlink, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AssetPathError, TerminalError } from "../../src/index.js";
import { checkEntryPaths, collectFiles, ensureDirInside, entryPathProblem, isInside, prepareTarget, relativeInside } from "../../src/agent/asset-paths.js";

const W = "/work/dir";

const pathError = async (f: () => unknown): Promise<AssetPathError> => {
  try {
    await f();
  } catch (e) {
    if (e instanceof AssetPathError) return e;
    throw e;
  }
  throw new Error("no error");
};

describe("relativeInside (lexical)", () => {
  it.each([
    ["a.txt", "a.txt"],
    ["out/a.txt", "out/a.txt"],
    ["./out//a.txt/", "out/a.txt"],
    [".", ""],
    ["./", ""],
    [`${W}/out/a.txt`, "out/a.txt"],
    [W, ""],
    [`${W}/`, ""],
    ["..foo/bar", "..foo/bar"],
    ["a/..b", "a/..b"],
  ])("accepts %j as %j", (given, rel) => {
    expect(relativeInside(W, given, "persist()")).toBe(rel);
  });

  it.each([
    ["..", 'persist(): the path ".." contains "..": paths must stay inside the working directory /work/dir'],
    ["../x", 'persist(): the path "../x" contains ".."'],
    ["a/../b", 'persist(): the path "a/../b" contains ".."'],
    ["a/..", 'persist(): the path "a/.." contains ".."'],
    [`${W}/../dir/x`, `persist(): the path "${W}/../dir/x" contains ".."`],
    ["/etc/passwd", 'persist(): the path "/etc/passwd" is outside the working directory /work/dir (use a path relative to it, or context().workdir)'],
    ["/work/dir-evil/x", 'persist(): the path "/work/dir-evil/x" is outside the working directory'],
    ["/work", 'persist(): the path "/work" is outside the working directory'],
    ["", "persist(): expected a non-empty path, got \"\""],
    ["a\0b", 'persist(): the path "a\\u0000b" contains a NUL character'],
  ])("refuses %j", (given, message) => {
    let err: unknown;
    try {
      relativeInside(W, given, "persist()");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AssetPathError);
    expect((err as Error).message.startsWith(message)).toBe(true);
  });

  it("makes path errors terminal: they are not retried", () => {
    expect(new AssetPathError("x")).toBeInstanceOf(TerminalError);
  });
});

describe("isInside", () => {
  it("tells a directory and what is below it from its siblings and parents", () => {
    expect(isInside("/a/b", "/a/b")).toBe(true);
    expect(isInside("/a/b", "/a/b/c/d")).toBe(true);
    expect(isInside("/a/b", "/a/b/..c")).toBe(true);
    expect(isInside("/a/b", "/a/bc")).toBe(false);
    expect(isInside("/a/b", "/a")).toBe(false);
    expect(isInside("/a/b", "/")).toBe(false);
  });
});

describe("entry paths of an asset being restored", () => {
  it.each(["a.txt", "out/a.txt", "a/b/c/d.bin", "..a", "a..", ".hidden/x", "with space/ünï.txt"])("accepts %j", (p) => {
    expect(entryPathProblem(p)).toBeUndefined();
  });

  it.each([
    ["", "the path is empty"],
    ["../x", 'the path contains ".."'],
    ["a/../../x", 'the path contains ".."'],
    ["a/..", 'the path contains ".."'],
    ["/etc/passwd", "the path is absolute"],
    ["a//b", 'the path has an empty or "." segment'],
    ["a/", 'the path has an empty or "." segment'],
    ["./a", 'the path has an empty or "." segment'],
    ["a\0", "the path contains a NUL character"],
    ["x".repeat(4097), "the path is longer than 4096 characters"],
  ])("refuses %j: %s", (p, problem) => {
    expect(entryPathProblem(p)).toBe(problem);
  });

  it("refuses the whole asset for one bad entry, a duplicate, or a file that is another entry's directory, naming the asset and the entry", () => {
    expect(() => checkEntryPaths("A1", ["ok.txt", "../x"])).toThrow('asset A1: entry "../x": the path contains "..": refused (restoring never writes outside the target directory)');
    expect(() => checkEntryPaths("A1", ["a.txt", "a.txt"])).toThrow("asset A1: entry a.txt is listed twice");
    expect(() => checkEntryPaths("A1", ["a", "a/b.txt"])).toThrow("asset A1: entry a is a file and also the directory of entry a/b.txt");
    expect(() => checkEntryPaths("A1", ["a/b.txt", "a/c.txt", "ab"])).not.toThrow();
  });
});

describe("on disk", () => {
  let base: string;
  let wd: string;
  let outside: string;

  beforeAll(async () => {
    base = await realpath(await mkdtemp(path.join(tmpdir(), "tributary-paths-")));
    wd = path.join(base, "wd");
    outside = path.join(base, "outside");
    await mkdir(path.join(wd, "out/deep"), { recursive: true });
    await mkdir(outside);
    await writeFile(path.join(wd, "top.txt"), "top");
    await writeFile(path.join(wd, "out/a.txt"), "aa");
    await writeFile(path.join(wd, "out/empty.txt"), "");
    await writeFile(path.join(wd, "out/deep/z.bin"), Buffer.from([0, 1, 2]));
    await writeFile(path.join(outside, "secret.txt"), "secret");
    await mkdir(path.join(wd, "links"));
    await symlink("../top.txt", path.join(wd, "links/to-top.txt"));
    await symlink(path.join(outside, "secret.txt"), path.join(wd, "links-out.txt"));
    await symlink(outside, path.join(wd, "outdir"));
    await symlink("../out", path.join(wd, "links/out-dir"));
    await symlink("nothing-here", path.join(wd, "dangling"));
    await mkdir(path.join(wd, "cycle/sub"), { recursive: true });
    await symlink("..", path.join(wd, "cycle/sub/up"));
    await mkdir(path.join(wd, "badtree"));
    await writeFile(path.join(wd, "badtree/fine.txt"), "fine");
    await symlink(path.join(outside, "secret.txt"), path.join(wd, "badtree/sneaky"));
  });

  afterAll(async () => {
    await rm(base, { recursive: true, force: true });
  });

  describe("collectFiles (persist)", () => {
    it("lists a file and a directory's files recursively, in name order, relative to the root, with sizes", async () => {
      const files = await collectFiles(wd, ["top.txt", "out"], "persist()");
      expect(files).toEqual([
        { path: "top.txt", source: path.join(wd, "top.txt"), size: 3 },
        { path: "out/a.txt", source: path.join(wd, "out/a.txt"), size: 2 },
        { path: "out/deep/z.bin", source: path.join(wd, "out/deep/z.bin"), size: 3 },
        { path: "out/empty.txt", source: path.join(wd, "out/empty.txt"), size: 0 },
      ]);
    });

    it("takes absolute paths inside the root, and lists a file named twice once", async () => {
      const files = await collectFiles(wd, [path.join(wd, "out/a.txt"), "out", "./out/a.txt"], "persist()");
      expect(files.map((f) => f.path)).toEqual(["out/a.txt", "out/deep/z.bin", "out/empty.txt"]);
    });

    it("follows links that stay inside: a file stored under the link's path, a directory walked", async () => {
      const files = await collectFiles(wd, ["links"], "persist()");
      expect(files).toEqual([
        { path: "links/out-dir/a.txt", source: path.join(wd, "out/a.txt"), size: 2 },
        { path: "links/out-dir/deep/z.bin", source: path.join(wd, "out/deep/z.bin"), size: 3 },
        { path: "links/out-dir/empty.txt", source: path.join(wd, "out/empty.txt"), size: 0 },
        { path: "links/to-top.txt", source: path.join(wd, "top.txt"), size: 3 },
      ]);
    });

    it("refuses a link pointing out: named directly, as a directory on the way, or met while walking", async () => {
      expect((await pathError(() => collectFiles(wd, ["links-out.txt"], "persist()"))).message).toBe(
        `persist(): links-out.txt is a symbolic link, or under one, that points outside the working directory (to ${path.join(outside, "secret.txt")}): refused`,
      );
      expect((await pathError(() => collectFiles(wd, ["outdir/secret.txt"], "persist()"))).message).toContain("outdir/secret.txt is a symbolic link, or under one, that points outside");
      expect((await pathError(() => collectFiles(wd, ["outdir"], "persist()"))).message).toContain("outdir is a symbolic link, or under one, that points outside");
      expect((await pathError(() => collectFiles(wd, ["badtree"], "persist()"))).message).toContain("badtree/sneaky is a symbolic link, or under one, that points outside");
    });

    it("refuses the whole root when something in it points out", async () => {
      expect((await pathError(() => collectFiles(wd, ["."], "persist()"))).message).toMatch(/points outside the working directory/);
    });

    it("refuses a dangling link, a directory cycle, a missing path, and paths outside before touching the disk", async () => {
      expect((await pathError(() => collectFiles(wd, ["dangling"], "persist()"))).message).toBe(`persist(): dangling does not exist (relative paths are relative to the working directory ${wd})`);
      expect((await pathError(() => collectFiles(wd, ["cycle"], "persist()"))).message).toBe("persist(): cycle/sub/up is a symbolic link to a directory that contains it (a cycle)");
      expect((await pathError(() => collectFiles(wd, ["nope"], "persist()"))).message).toContain("nope does not exist");
      expect((await pathError(() => collectFiles(wd, ["top.txt", "../outside/secret.txt"], "persist()"))).message).toContain('contains ".."');
    });

    it("refuses a FIFO (neither a file nor a directory)", async () => {
      try {
        execFileSync("mkfifo", [path.join(wd, "pipe")]);
      } catch {
        return; // no mkfifo here
      }
      try {
        expect((await pathError(() => collectFiles(wd, ["pipe"], "persist()"))).message).toBe("persist(): pipe is neither a regular file nor a directory");
      } finally {
        await rm(path.join(wd, "pipe"));
      }
    });
  });

  describe("ensureDirInside and prepareTarget (restore)", () => {
    it("makes the directories of an entry, and returns where to write it", async () => {
      const target = await ensureDirInside(wd, "restore/here", "restore()");
      expect(target).toBe(path.join(wd, "restore/here"));
      const file = await prepareTarget(target, "x/y/z.txt", "restore()");
      expect(file).toBe(path.join(wd, "restore/here/x/y/z.txt"));
      expect(existsSync(path.join(wd, "restore/here/x/y"))).toBe(true);
      expect(existsSync(file)).toBe(false);
    });

    it("goes through a link on the way that resolves inside the target, not one that resolves outside", async () => {
      const t = await ensureDirInside(wd, "t1", "restore()");
      await mkdir(path.join(t, "real"));
      await symlink("real", path.join(t, "alias"));
      expect(await prepareTarget(t, "alias/f.txt", "restore()")).toBe(path.join(t, "real/f.txt"));
      await symlink(outside, path.join(t, "escape"));
      expect((await pathError(() => prepareTarget(t, "escape/f.txt", "restore() of asset A"))).message).toBe(
        `restore() of asset A: escape is a symbolic link that points outside ${t} (to ${outside}): refused`,
      );
      // A link to the working directory is outside a target below it.
      await symlink(wd, path.join(t, "up"));
      expect((await pathError(() => prepareTarget(t, "up/f.txt", "restore()"))).message).toContain("up is a symbolic link that points outside");
      expect((await pathError(() => ensureDirInside(wd, "outdir/x", "restore() to"))).message).toContain("outdir is a symbolic link that points outside");
    });

    it("refuses a file on the way, and a directory at the entry's path; leaves a link at the entry's path to be replaced", async () => {
      const t = await ensureDirInside(wd, "t2", "restore()");
      await writeFile(path.join(t, "file"), "f");
      await mkdir(path.join(t, "dir"));
      await symlink(path.join(outside, "secret.txt"), path.join(t, "link.txt"));
      expect((await pathError(() => prepareTarget(t, "file/x.txt", "restore()"))).message).toBe("restore(): file exists and is not a directory");
      expect((await pathError(() => prepareTarget(t, "dir", "restore()"))).message).toBe("restore(): dir exists and is a directory");
      expect(await prepareTarget(t, "link.txt", "restore()")).toBe(path.join(t, "link.txt"));
      expect(await readlink(path.join(t, "link.txt"))).toBe(path.join(outside, "secret.txt"));
    });

    it("refuses unsafe relative paths itself, whatever the caller checked", async () => {
      expect((await pathError(() => ensureDirInside(wd, "a/../..", "restore()"))).message).toBe('restore(): "a/../.." is not a safe relative path');
      expect((await pathError(() => prepareTarget(wd, "..", "restore()"))).message).toBe('restore(): ".." is not a safe relative path');
      expect((await pathError(() => prepareTarget(wd, "x/", "restore()"))).message).toContain("is not a safe relative path");
    });
  });
});
