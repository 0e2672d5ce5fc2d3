import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, stat, utimes, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DataDirLock, DataDirLocked } from "../../src/orchestrator/data-lock.js";

/** A pid that was a process a moment ago and is gone now. */
const deadPid = (): number => {
  const r = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
  return Number(r.stdout);
};

describe("the data directory's lock", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "trib-lock-"));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));
  const file = () => join(dir, "server.lock");

  it("is held by one owner at a time, and the refusal names the holder's pid", async () => {
    const lock = DataDirLock.acquire(dir);
    expect(JSON.parse(await readFile(file(), "utf8"))).toMatchObject({ pid: process.pid, host: hostname() });
    let refused: unknown;
    try {
      DataDirLock.acquire(dir);
    } catch (e) {
      refused = e;
    }
    expect(refused).toBeInstanceOf(DataDirLocked);
    expect((refused as DataDirLocked).pid).toBe(process.pid);
    expect((refused as Error).message).toMatch(new RegExp(`in use by another server \\(pid ${process.pid},`));
    lock.release();
    await expect(stat(file())).rejects.toThrow(/ENOENT/);
    DataDirLock.acquire(dir).release();
  });

  it("is taken over when its process is gone", async () => {
    await writeFile(file(), JSON.stringify({ pid: deadPid(), host: hostname(), since: "earlier" }));
    const lock = DataDirLock.acquire(dir);
    expect(JSON.parse(await readFile(file(), "utf8"))).toMatchObject({ pid: process.pid });
    lock.release();
  });

  it("is taken over when its pid now belongs to a process that started at another time", async () => {
    await writeFile(file(), JSON.stringify({ pid: process.pid, host: hostname(), start: "1", since: "earlier" }));
    const lock = DataDirLock.acquire(dir);
    expect(JSON.parse(await readFile(file(), "utf8"))).toMatchObject({ pid: process.pid });
    lock.release();
  });

  it("a torn lock file is taken over once it is old, not while it may be being written", async () => {
    await writeFile(file(), "");
    await utimes(file(), new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
    DataDirLock.acquire(dir).release();
  });

  it("held on another host, it is refused with a way out", async () => {
    await writeFile(file(), JSON.stringify({ pid: 4242, host: "elsewhere", since: "earlier" }));
    expect(() => DataDirLock.acquire(dir)).toThrow(/locked by the server with pid 4242 on host elsewhere .*remove .*server\.lock/);
  });

  it("release leaves a lock that another owner took meanwhile", async () => {
    const lock = DataDirLock.acquire(dir);
    await writeFile(file(), JSON.stringify({ pid: 4242, host: hostname(), since: "later" }));
    lock.release();
    expect(JSON.parse(await readFile(file(), "utf8"))).toMatchObject({ pid: 4242 });
  });
});
