import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { open } from "lmdb";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Event, EventLog, RunId } from "../../src/events/index.js";
import { blobRefsProjection, canonicalJson, getBlobRef, getRunView, PROJECTIONS, ProjectionCorrupt, runsProjection, type AssetDoc, type RunView } from "../../src/projections/index.js";
import { LmdbProjectionStore, Projector, runAsOf, runAt, stateAsOf } from "../../src/projections/store/index.js";
import { LOG_ADAPTERS, type TestLog } from "../support/logs.js";
import { simulate } from "../support/simulate.js";

describe.each(LOG_ADAPTERS)("projections over the $name log", (adapter) => {
  let t: TestLog;
  let log: EventLog;
  let dir: string;
  const notices: string[] = [];
  const stores: LmdbProjectionStore[] = [];

  beforeEach(async () => {
    t = await adapter.open();
    log = t.log;
    await log.createEnv(t.ref);
    dir = await mkdtemp(join(tmpdir(), "trib-proj-"));
    notices.length = 0;
  });

  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close().catch(() => {});
    await log.close();
    await t.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  const openStore = async (path = join(dir, "store"), projections = PROJECTIONS) => {
    const store = await LmdbProjectionStore.open(path, projections, (m) => notices.push(m));
    stores.push(store);
    return store;
  };
  const projectorFor = (store: LmdbProjectionStore, batchSize = 1000) =>
    new Projector({ log, ref: t.ref, store, batchSize, onNotice: (m) => notices.push(m) });
  const closeStore = async (store: LmdbProjectionStore) => {
    stores.splice(stores.indexOf(store), 1);
    await store.close();
  };
  const appendAll = async (commits: Iterable<Event[]>) => {
    let n = 0;
    for (const events of commits) {
      await log.append(t.ref, events, { expectedLastSeq: n });
      n++;
    }
    return n;
  };

  it("rebuild from sequence 1 gives exactly the content of incremental application with restarts", async () => {
    const commits = [...simulate({ seed: 11, runs: 60 })];
    const eventCount = commits.reduce((n, c) => n + c.length, 0);
    expect(eventCount).toBeGreaterThan(2000);

    // Incremental: append in chunks, catching up after each, restarting the
    // store (close and reopen) every few chunks, with small batches so that
    // batch boundaries fall everywhere.
    let store = await openStore();
    let seq = 0;
    let chunk = 0;
    while (seq < commits.length) {
      const size = 37 + ((chunk * 53) % 211);
      for (const events of commits.slice(seq, seq + size)) {
        await log.append(t.ref, events, { expectedLastSeq: seq });
        seq++;
      }
      const r = await projectorFor(store, 1 + ((chunk * 17) % 64)).start();
      expect(r.checkpoint).toBe(seq);
      if (chunk % 3 === 2) {
        await closeStore(store);
        store = await openStore();
        expect(store.checkpoint).toBe(seq);
      }
      chunk++;
    }
    const incremental = store.dump();
    expect(notices).toEqual([]);

    // Rebuild into a fresh store, in one go.
    const fresh = await openStore(join(dir, "fresh"));
    const r = await projectorFor(fresh).start();
    expect(r).toEqual({ commits: commits.length, events: eventCount, checkpoint: commits.length });
    expect(fresh.dump()).toEqual(incremental);

    // Rebuild of the incremental store itself, and the in-memory fold, agree too.
    await projectorFor(store).rebuild("test");
    expect(store.dump()).toEqual(incremental);
    expect((await stateAsOf(log, t.ref, commits.length)).dump()).toEqual(incremental);

    // And the content is real: every run is there (the 60 submitted, and the child runs workflows called), most of them finished.
    const runs = incremental.filter((l) => l.startsWith("runs\t"));
    expect(runs.filter((l) => !l.includes('"parent":'))).toHaveLength(60);
    expect(runs.filter((l) => /"status":"(succeeded|failed|cancelled)"/.test(l)).length).toBeGreaterThan(50);
  });

  it("a projector following the log live ends with the same content as a rebuild", async () => {
    const store = await openStore();
    const p = projectorFor(store, 50);
    await p.start();
    p.follow();
    const n = await appendAll(simulate({ seed: 5, runs: 15 }));
    await p.waitFor(n);
    await p.stop();
    const fresh = await openStore(join(dir, "fresh"));
    await projectorFor(fresh).start();
    expect(store.dump()).toEqual(fresh.dump());
    expect(store.checkpoint).toBe(n);
  });

  it("after a restart the projector resumes from its checkpoint instead of replaying", async () => {
    const commits = [...simulate({ seed: 3, runs: 10 })];
    const half = Math.floor(commits.length / 2);
    await appendAll(commits.slice(0, half));
    let store = await openStore();
    expect((await projectorFor(store).start()).commits).toBe(half);
    await closeStore(store);
    for (let i = half; i < commits.length; i++) await log.append(t.ref, commits[i]!, { expectedLastSeq: i });
    store = await openStore();
    const r = await projectorFor(store).start();
    expect(r.commits).toBe(commits.length - half);
    expect(notices).toEqual([]);
  });

  it("a projection built by an older projection version is rebuilt, saying why", async () => {
    const n = await appendAll(simulate({ seed: 4, runs: 5 }));
    let store = await openStore();
    await projectorFor(store).start();
    const before = store.dump();
    await closeStore(store);
    const bumped = PROJECTIONS.map((p) => (p === runsProjection ? { ...p, version: p.version + 1 } : p));
    store = await openStore(undefined, bumped);
    const r = await projectorFor(store).start();
    expect(r.commits).toBe(n);
    expect(notices).toHaveLength(1);
    expect(notices[0]).toContain(`projection runs was built by version ${runsProjection.version}, this code is version ${runsProjection.version + 1}`);
    expect(store.dump()).toEqual(before);
  });

  it("a projection new in this version (blob-refs) makes a store built without it rebuild, saying why", async () => {
    const n = await appendAll(simulate({ seed: 4, runs: 6 }));
    const older = PROJECTIONS.filter((p) => p !== blobRefsProjection);
    let store = await openStore(undefined, older);
    await projectorFor(store).start();
    const before = store.dump();
    await closeStore(store);
    store = await openStore();
    const r = await projectorFor(store).start();
    expect(r.commits).toBe(n);
    expect(notices).toEqual([expect.stringContaining("projection blob-refs is new in this version")]);
    const after = store.dump();
    // The other tables come back the same; the new one holds every blob the persisted assets name.
    expect(after.filter((l) => !l.startsWith("blob-refs\t"))).toEqual(before);
    const keys = [...store.range<AssetDoc>("assets")].flatMap(([, d]) => d.persisted?.entries.map((e) => e.blobKey) ?? []);
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) expect(getBlobRef(store, key), key).toMatchObject({ key, use: "asset" });
    // Opened again, it is up to date: no rebuild.
    await closeStore(store);
    notices.length = 0;
    store = await openStore();
    expect((await projectorFor(store).start()).commits).toBe(0);
    expect(notices).toEqual([]);
  });

  it("a checkpoint ahead of the log is detected and rebuilt, saying why", async () => {
    const commits = [...simulate({ seed: 6, runs: 8 })];
    await appendAll(commits);
    let store = await openStore();
    await projectorFor(store).start();
    await closeStore(store);
    // The log loses its tail, as after a power loss: same first commits, fewer of them.
    await log.deleteEnv(t.ref);
    await log.createEnv(t.ref);
    const kept = Math.floor(commits.length / 3);
    await appendAll(commits.slice(0, kept));
    store = await openStore();
    const r = await projectorFor(store).start();
    expect(notices[0]).toMatch(new RegExp(`checkpoint ${commits.length} is ahead of the log .* which ends at ${kept}`));
    expect(r.checkpoint).toBe(kept);
    const fresh = await openStore(join(dir, "fresh"));
    await projectorFor(fresh).start();
    expect(store.dump()).toEqual(fresh.dump());
  });

  it("a store built from another log (the environment was recreated) is rebuilt", async () => {
    await appendAll(simulate({ seed: 7, runs: 4 }));
    let store = await openStore();
    await projectorFor(store).start();
    await closeStore(store);
    await log.deleteEnv(t.ref);
    await log.createEnv(t.ref);
    await appendAll(simulate({ seed: 8, runs: 12 }));
    store = await openStore();
    await projectorFor(store).start();
    expect(notices[0]).toMatch(/was recreated since the projections were built/);
  });

  /**
   * What one run's own commits hold of its view: `runAsOf` reads only those,
   * so of an asset that two runs share (one persisted it, the other restored
   * it) each run's view as of a sequence shows only its own part: how it was
   * persisted is in the first run's commits, the restore in the second's.
   */
  const ownPart = (view: RunView): RunView => ({
    ...view,
    assets: Object.fromEntries(
      Object.entries(view.assets).map(([id, { persisted, restores, ...rest }]): [string, AssetDoc] => [
        id,
        {
          ...rest,
          ...(persisted === undefined || persisted.runId !== view.run.runId ? {} : { persisted }),
          restores: restores.filter((r) => r.runId === view.run.runId),
        },
      ]),
    ),
  });

  it("time travel: a run as of sequence N is the run as it stood when the log ended at N", async () => {
    const commits = [...simulate({ seed: 9, runs: 12 })];
    const store = await openStore();
    const p = projectorFor(store);
    const snapshots: { seq: number; runId: RunId; view: string }[] = [];
    for (let i = 0; i < commits.length; i++) {
      await log.append(t.ref, commits[i]!, { expectedLastSeq: i });
      const runId = commits[i]![0]!.runId;
      if (runId !== undefined && i % 7 === 0) {
        await p.catchUp();
        snapshots.push({ seq: i + 1, runId, view: canonicalJson(ownPart(getRunView(store, runId)!)) });
      }
    }
    expect(snapshots.length).toBeGreaterThan(20);
    for (const s of snapshots) {
      expect(canonicalJson(await runAsOf(log, t.ref, s.runId, s.seq))).toBe(s.view);
    }
    // Before its submission the run did not exist.
    const first = snapshots[0]!;
    const submittedAt = commits.findIndex((c) => c[0]!.runId === first.runId) + 1;
    expect(await runAsOf(log, t.ref, first.runId, submittedAt - 1)).toBeUndefined();
  });

  it("runAt: a run as of a sequence or a time, with the sequence it stands at, and where it began when it did not exist yet", async () => {
    const commits = [...simulate({ seed: 11, runs: 6 })];
    await appendAll(commits);
    const runId = commits.find((c) => c[0]!.runId !== undefined)![0]!.runId!;
    const own = commits.map((c, i) => ({ seq: i + 1, events: c })).filter((c) => c.events.some((e) => e.runId === runId));
    expect(own.length).toBeGreaterThan(3);
    const first = own[0]!.seq;
    const last = own[own.length - 1]!.seq;
    // By sequence: the same view as runAsOf, standing at the run's last commit at or before it; past the end, the latest.
    for (const { seq } of own) {
      const r = await runAt(log, t.ref, runId, { seq });
      expect(r).toMatchObject({ found: true, seq });
      if (r.found) expect(canonicalJson(r.view)).toBe(canonicalJson(await runAsOf(log, t.ref, runId, seq)));
    }
    const end = await runAt(log, t.ref, runId, { seq: commits.length + 1000 });
    expect(end.found && end.seq).toBe(last);
    if (end.found) expect(canonicalJson(end.view)).toBe(canonicalJson(await runAsOf(log, t.ref, runId, last)));
    // Earlier points have fewer (or as many) steps than later ones.
    const early = await runAt(log, t.ref, runId, { seq: first });
    expect(early.found && end.found && early.view.steps.length <= end.view.steps.length).toBe(true);
    // Before it: not found, saying where it begins.
    expect(await runAt(log, t.ref, runId, { seq: first - 1 })).toEqual({ found: false, first });
    // By time: up to the run's first commit whose first event is later than the time.
    const mid = own[Math.floor(own.length / 2)]!;
    const time = mid.events[0]!.at;
    const cut = own.findIndex((c) => c.events[0]!.at > time);
    const expected = (cut === -1 ? own[own.length - 1]! : own[cut - 1]!).seq;
    expect(await runAt(log, t.ref, runId, { time })).toMatchObject({ found: true, seq: expected });
    expect(await runAt(log, t.ref, runId, { time: own[0]!.events[0]!.at - 1 })).toEqual({ found: false, first });
    // A run with no commit in this log.
    expect(await runAt(log, t.ref, "r-nowhere" as RunId, { seq: 5 })).toEqual({ found: false });
    // With upTo (a branch point): no further than it, whatever the point; before the run, where it begins.
    const cap = own[1]!.seq;
    for (const point of [{ seq: last }, { seq: commits.length + 1000 }, { time: own[own.length - 1]!.events[0]!.at }]) {
      const r = await runAt(log, t.ref, runId, point, cap);
      expect(r).toMatchObject({ found: true, seq: cap });
      if (r.found) expect(canonicalJson(r.view)).toBe(canonicalJson(await runAsOf(log, t.ref, runId, cap)));
    }
    expect(await runAt(log, t.ref, runId, { seq: first }, cap)).toMatchObject({ found: true, seq: first });
    expect(await runAt(log, t.ref, runId, { seq: last }, first - 1)).toEqual({ found: false, first });
  });

  it("a corrupted document fails loudly, naming it, and a rebuild repairs the store", async () => {
    await appendAll(simulate({ seed: 10, runs: 3 }));
    const path = join(dir, "store");
    let store = await openStore(path);
    await projectorFor(store).start();
    const [runId] = [...store.range("runs")].map(([k]) => k);
    await closeStore(store);
    const raw = open({ path, maxDbs: 16 });
    await raw.openDB({ name: "p:runs", encoding: "binary" }).put(runId!, Buffer.from([0xc1, 0xc1, 0xc1]));
    await raw.close();
    store = await openStore(path);
    expect(() => store.get("runs", runId!)).toThrow(ProjectionCorrupt);
    expect(() => store.get("runs", runId!)).toThrow(/projection runs is corrupt at key .* projections rebuild/);
    await projectorFor(store).rebuild("corrupt document");
    expect(store.get("runs", runId!)).toMatchObject({ runId });
  });

  it("a store whose files cannot be opened is moved aside and rebuilt from the log", async () => {
    const n = await appendAll(simulate({ seed: 12, runs: 3 }));
    const path = join(dir, "store");
    const store = await openStore(path);
    await projectorFor(store).start();
    await closeStore(store);
    await writeFile(join(path, "data.mdb"), Buffer.alloc(8192, 0x5a));
    const again = await openStore(path);
    expect(notices[0]).toMatch(/cannot be opened .* moved to .*corrupt-\d+, rebuilding/);
    expect((await projectorFor(again).start()).checkpoint).toBe(n);
  });
});
