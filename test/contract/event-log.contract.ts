/**
 * The contract every `EventLog` adapter passes. Each adapter's integration
 * test calls {@link eventLogContract} with a factory of fresh logs; the
 * suite is the same for all of them, so a commit that works on one works on
 * the other.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { InvalidCommit, InvalidEvent, InvalidNameError, CorruptEvent, LogClosed, LogNotFound, MAX_COMMIT_BYTES, WrongExpectedSequence, envSubject, logRef, runSubject, type Commit, type Event, type ManifestRegistered, type EventLog, type LogRef, type RunId, type StepScheduled, type Subscription } from "../../src/events/index.js";
import { decodeCommit, encodeCommit } from "../../src/events/codec.js";
import {
  agentConnected,
  executionSucceeded,
  newExecutionId,
  newRunId,
  runSubmitted,
  stepScheduled,
  submission,
} from "../support/events.js";

/** A fresh log for one test, and how to open it again on the same storage. */
export interface LogFixture {
  readonly log: EventLog;
  /** Opens a new log on the same storage (the caller closes the old one first). */
  reopen(): Promise<EventLog>;
  /** Releases the storage; called after every test, once its logs are closed. */
  cleanup(): Promise<void>;
  /**
   * Stores `bytes` as the environment's next commit underneath the adapter
   * (the log of the test is closed meanwhile): how a test makes a corrupt
   * commit that no append would write.
   */
  writeUnderneath(ref: LogRef, bytes: Uint8Array): Promise<void>;
}

export interface ContractOptions {
  /**
   * Prefix of the project names the suite uses, so that an adapter with
   * shared storage (one NATS server) can find and remove what a test left.
   * Default `contract`.
   */
  readonly projectPrefix?: string;
}

/** Defines the `EventLog` contract suite for one adapter. */
export function eventLogContract(name: string, makeLog: () => Promise<LogFixture>, options: ContractOptions = {}): void {
  describe(`EventLog contract: ${name}`, () => {
    const prefix = options.projectPrefix ?? "contract";
    let fixture: LogFixture;
    /** The log the test currently uses (changes when a test reopens). */
    let log: EventLog;
    const logs: EventLog[] = [];
    const created: LogRef[] = [];
    let projects = 0;

    /** A fresh project name, unique in this suite. */
    const project = () => `${prefix}-${++projects}`;
    /** A created environment in a fresh project. */
    const env = async (project_ = project(), envName = "production"): Promise<LogRef> => {
      const ref = logRef(project_, envName);
      await log.createEnv(ref);
      created.push(ref);
      return ref;
    };
    const reopen = async (): Promise<EventLog> => {
      await log.close();
      log = await fixture.reopen();
      logs.push(log);
      return log;
    };

    beforeEach(async () => {
      fixture = await makeLog();
      log = fixture.log;
      logs.length = 0;
      logs.push(log);
      created.length = 0;
    });

    afterEach(async () => {
      try {
        for (const l of logs) await l.close();
        const open = await fixture.reopen();
        try {
          for (const ref of created) await open.deleteEnv(ref);
        } finally {
          await open.close();
        }
      } finally {
        await fixture.cleanup();
      }
    });

    describe("appending and reading", () => {
      it("listEnvs names the environments of a project that have a log", async () => {
        const p = project();
        await env(p, "production");
        await env(p, "dev-joe");
        await env(project(), "production");
        const listed = (await log.listEnvs(p)).map((r) => `${r.project}/${r.env}`);
        expect(listed).toEqual([`${p}/dev-joe`, `${p}/production`]);
        expect((await log.listEnvs()).map((r) => `${r.project}/${r.env}`)).toEqual(expect.arrayContaining(listed));
        await log.deleteEnv(logRef(p, "dev-joe"));
        expect((await log.listEnvs(p)).map((r) => r.env)).toEqual(["production"]);
      });

      it("an empty log has last sequence 0 and reads nothing", async () => {
        const ref = await env();
        expect(await log.lastSeq(ref)).toBe(0);
        expect(await all(log.read(ref))).toEqual([]);
        expect(await all(log.read(ref, { from: 1, to: 10 }))).toEqual([]);
      });

      it("appended commits get sequences 1, 2, 3 in order and read back exactly", async () => {
        const ref = await env();
        const runA = newRunId();
        const commits: Event[][] = [
          submission(runA),
          [agentConnected("agent-1")],
          [stepScheduled(runA, "charge-card", { arguments: [{ amount: 12_999n, at: new Date(1_700_000_000_000) }] })],
          [executionSucceeded(runA, "charge-card", newExecutionId(), { receipt: new Uint8Array([1, 2, 3]) })],
        ];
        const appended = [];
        for (const events of commits) appended.push(await log.append(ref, events));
        expect(appended).toEqual([
          { seq: 1, duplicate: false },
          { seq: 2, duplicate: false },
          { seq: 3, duplicate: false },
          { seq: 4, duplicate: false },
        ]);
        expect(await log.lastSeq(ref)).toBe(4);

        const read = await all(log.read(ref));
        expect(read.map((c) => c.seq)).toEqual([1, 2, 3, 4]);
        expect(read.map((c) => c.events)).toEqual(commits);
        expect(read[0]).toMatchObject({ id: commits[0]![0]!.id, runId: runA, subject: runSubject(ref, runA) });
        expect(read[1]).toMatchObject({ id: commits[1]![0]!.id, subject: envSubject(ref) });
        expect(read[1]!.runId).toBeUndefined();
        expect(read[3]).toMatchObject({ id: commits[3]![0]!.id, runId: runA });
      });

      it("a range read returns exactly the commits from `from` to `to`", async () => {
        const ref = await env();
        await appendMany(log, ref, 10);
        expect(seqs(await all(log.read(ref, { from: 4, to: 7 })))).toEqual([4, 5, 6, 7]);
        expect(seqs(await all(log.read(ref, { from: 8 })))).toEqual([8, 9, 10]);
        expect(seqs(await all(log.read(ref, { to: 2 })))).toEqual([1, 2]);
        expect(seqs(await all(log.read(ref, { from: 5, to: 5 })))).toEqual([5]);
        expect(seqs(await all(log.read(ref, { from: 9, to: 50 })))).toEqual([9, 10]);
      });

      it("an empty range reads nothing and does not hang", async () => {
        const ref = await env();
        await appendMany(log, ref, 3);
        expect(await all(log.read(ref, { from: 4 }))).toEqual([]);
        expect(await all(log.read(ref, { from: 100, to: 200 }))).toEqual([]);
        expect(await all(log.read(ref, { from: 3, to: 2 }))).toEqual([]);
        expect(await all(log.read(ref, { runId: newRunId() }))).toEqual([]);
      });

      it("a read stops at the last commit that existed when it started", async () => {
        const ref = await env();
        await appendMany(log, ref, 5);
        const it = log.read(ref)[Symbol.asyncIterator]();
        const first = await it.next();
        expect(first.done ? undefined : first.value.seq).toBe(1);
        await appendMany(log, ref, 3);
        const rest: number[] = [];
        for (let r = await it.next(); !r.done; r = await it.next()) rest.push(r.value.seq);
        expect(rest).toEqual([2, 3, 4, 5]);
      });

      it("a reader that stops early can read again", async () => {
        const ref = await env();
        await appendMany(log, ref, 20);
        for await (const c of log.read(ref)) if (c.seq === 3) break;
        expect(seqs(await all(log.read(ref)))).toHaveLength(20);
      });

      it("pipelined appends all land in call order", async () => {
        const ref = await env();
        const batches = Array.from({ length: 500 }, (_, i) => [stepScheduled(newRunId(), `step-${i}`)]);
        const appended = await Promise.all(batches.map((events) => log.append(ref, events)));
        expect(appended.map((a) => a.seq)).toEqual(batches.map((_, i) => i + 1));
        const read = await all(log.read(ref));
        expect(read.map((c) => c.id)).toEqual(batches.map((b) => b[0]!.id));
      });

      it("pipelined appends with successive expected sequences all succeed", async () => {
        const ref = await env();
        const appended = await Promise.all(
          Array.from({ length: 200 }, (_, i) => log.append(ref, [agentConnected(`agent-${i}`)], { expectedLastSeq: i })),
        );
        expect(appended.map((a) => a.seq)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
      });

      it("a commit just under MAX_COMMIT_BYTES is stored and read back", async () => {
        const ref = await env();
        const bytes = new Uint8Array(MAX_COMMIT_BYTES - 4_000).map((_, i) => i % 251);
        const big = stepScheduled(newRunId(), "upload", { arguments: [bytes] });
        expect(await log.append(ref, [big])).toEqual({ seq: 1, duplicate: false });
        const [read] = await all(log.read(ref));
        const got = read!.events[0] as StepScheduled;
        // toEqual walks a megabyte element by element for seconds: compare the bytes natively.
        expect(Buffer.compare(got.data.arguments[0] as Uint8Array, bytes)).toBe(0);
        expect({ ...got, data: { ...got.data, arguments: [] } }).toEqual({ ...big, data: { ...big.data, arguments: [] } });
      });
    });

    describe("one run's history", () => {
      it("a run's history holds only that run's commits, in order", async () => {
        const ref = await env();
        const [a, b] = [newRunId(), newRunId()];
        await log.append(ref, submission(a)); // 1
        await log.append(ref, submission(b)); // 2
        await log.append(ref, [agentConnected("agent-1")]); // 3
        await log.append(ref, [stepScheduled(a, "s1")]); // 4
        await log.append(ref, [stepScheduled(b, "s1")]); // 5
        await log.append(ref, [stepScheduled(a, "s2")]); // 6

        const historyA = await all(log.read(ref, { runId: a }));
        expect(seqs(historyA)).toEqual([1, 4, 6]);
        expect(historyA.every((c) => c.runId === a && c.subject === runSubject(ref, a))).toBe(true);
        expect(seqs(await all(log.read(ref, { runId: b })))).toEqual([2, 5]);
      });

      it("a run's history honours `from` and `to`", async () => {
        const ref = await env();
        const [a, b] = [newRunId(), newRunId()];
        for (let i = 0; i < 10; i++) await log.append(ref, [stepScheduled(i % 2 === 0 ? a : b, `s${i}`)]);
        // a: 1 3 5 7 9, b: 2 4 6 8 10
        expect(seqs(await all(log.read(ref, { runId: a, from: 3, to: 7 })))).toEqual([3, 5, 7]);
        expect(seqs(await all(log.read(ref, { runId: a, from: 4, to: 6 })))).toEqual([5]);
        expect(seqs(await all(log.read(ref, { runId: a, from: 6 })))).toEqual([7, 9]);
        expect(seqs(await all(log.read(ref, { runId: b, to: 3 })))).toEqual([2]);
        expect(seqs(await all(log.read(ref, { runId: a, from: 10 })))).toEqual([]);
        expect(seqs(await all(log.read(ref, { runId: b, from: 5, to: 5 })))).toEqual([]);
      });
    });

    describe("fencing", () => {
      it("an append with a wrong expected sequence is rejected and stores nothing", async () => {
        const ref = await env();
        await appendMany(log, ref, 2);
        const err = await log.append(ref, [agentConnected("late")], { expectedLastSeq: 1 }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(WrongExpectedSequence);
        expect(err).toMatchObject({ name: "WrongExpectedSequence", expected: 1, actual: 2 });
        await expect(log.append(ref, [agentConnected("ahead")], { expectedLastSeq: 7 })).rejects.toBeInstanceOf(
          WrongExpectedSequence,
        );
        expect(await log.lastSeq(ref)).toBe(2);
        expect(seqs(await all(log.read(ref)))).toEqual([1, 2]);
      });

      it("an append expecting the right sequence is stored, also on an empty log", async () => {
        const ref = await env();
        expect(await log.append(ref, [agentConnected("a")], { expectedLastSeq: 0 })).toEqual({ seq: 1, duplicate: false });
        expect(await log.append(ref, [agentConnected("b")], { expectedLastSeq: 1 })).toEqual({ seq: 2, duplicate: false });
      });

      it("of concurrent appends with the same expected sequence exactly one wins", async () => {
        const ref = await env();
        await appendMany(log, ref, 1);
        const contenders = Array.from({ length: 10 }, (_, i) => [agentConnected(`writer-${i}`)]);
        const results = await Promise.allSettled(contenders.map((events) => log.append(ref, events, { expectedLastSeq: 1 })));
        const won = results.filter((r) => r.status === "fulfilled");
        const lost = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
        expect(won).toHaveLength(1);
        expect(won[0]!.value).toEqual({ seq: 2, duplicate: false });
        expect(lost).toHaveLength(9);
        for (const r of lost) expect(r.reason).toBeInstanceOf(WrongExpectedSequence);
        const winner = contenders[results.indexOf(won[0]!)]!;
        const read = await all(log.read(ref));
        expect(seqs(read)).toEqual([1, 2]);
        expect(read[1]!.events).toEqual(winner);
      });
    });

    describe("deduplication", () => {
      it("a retried append is deduplicated", async () => {
        const ref = await env();
        const events = submission();
        expect(await log.append(ref, events)).toEqual({ seq: 1, duplicate: false });
        await appendMany(log, ref, 1);
        expect(await log.append(ref, events)).toEqual({ seq: 1, duplicate: true });
        expect(await log.lastSeq(ref)).toBe(2);
        expect(seqs(await all(log.read(ref)))).toEqual([1, 2]);
      });

      it("a retried append is deduplicated even with its now-stale expected sequence", async () => {
        const ref = await env();
        await appendMany(log, ref, 1);
        const events = [agentConnected("agent-7")];
        expect(await log.append(ref, events, { expectedLastSeq: 1 })).toEqual({ seq: 2, duplicate: false });
        expect(await log.append(ref, events, { expectedLastSeq: 1 })).toEqual({ seq: 2, duplicate: true });
        expect(await log.lastSeq(ref)).toBe(2);
      });

      it("a commit is deduplicated by the id of its first event", async () => {
        const ref = await env();
        const run = newRunId();
        const first = runSubmitted(run);
        await log.append(ref, [first, stepScheduled(run, "root")]);
        expect(await log.append(ref, [first])).toEqual({ seq: 1, duplicate: true });
        expect((await all(log.read(ref)))[0]!.events).toHaveLength(2);
      });
    });

    describe("subscriptions", () => {
      it("a subscription from the middle delivers the tail, then live appends, in order, without gaps or duplicates", async () => {
        const ref = await env();
        await appendMany(log, ref, 5);
        const feed = collect(log.subscribe(ref, { from: 3 }));
        await feed.waitFor(3);
        const live = await appendMany(log, ref, 4);
        await feed.waitFor(7);
        await appendMany(log, ref, 1);
        await feed.waitFor(8);
        await sleep(100);
        await feed.close();
        expect(seqs(feed.commits)).toEqual([3, 4, 5, 6, 7, 8, 9, 10]);
        expect(feed.commits.slice(3, 7).map((c) => c.events)).toEqual(live);
      });

      it("a subscription from the next sequence delivers only new commits", async () => {
        const ref = await env();
        await appendMany(log, ref, 3);
        const feed = collect(log.subscribe(ref, { from: 4 }));
        await sleep(50);
        await appendMany(log, ref, 2);
        await feed.waitFor(2);
        await feed.close();
        expect(seqs(feed.commits)).toEqual([4, 5]);
      });

      it("a subscription of an empty log delivers commits from the first", async () => {
        const ref = await env();
        const feed = collect(log.subscribe(ref));
        await sleep(50);
        await appendMany(log, ref, 3);
        await feed.waitFor(3);
        await feed.close();
        expect(seqs(feed.commits)).toEqual([1, 2, 3]);
      });

      it("a subscription filtered by run delivers only that run's commits", async () => {
        const ref = await env();
        const [a, b] = [newRunId(), newRunId()];
        await log.append(ref, submission(a)); // 1
        await log.append(ref, submission(b)); // 2
        const feed = collect(log.subscribe(ref, { runId: a }));
        await feed.waitFor(1);
        await log.append(ref, [agentConnected("agent-1")]); // 3
        await log.append(ref, [stepScheduled(b, "x")]); // 4
        await log.append(ref, [stepScheduled(a, "y")]); // 5
        await feed.waitFor(2);
        await sleep(50);
        await feed.close();
        expect(seqs(feed.commits)).toEqual([1, 5]);
        expect(feed.commits.every((c) => c.runId === a)).toBe(true);
      });

      it("closing a subscription that waits for new commits ends its iteration promptly", async () => {
        const ref = await env();
        await appendMany(log, ref, 2);
        const feed = collect(log.subscribe(ref));
        await feed.waitFor(2);
        const started = performance.now();
        await feed.close();
        expect(performance.now() - started).toBeLessThan(1_000);
        expect(seqs(feed.commits)).toEqual([1, 2]);
      });

      it("closing a subscription before iterating it ends the iteration at once", async () => {
        const ref = await env();
        await appendMany(log, ref, 2);
        const sub = log.subscribe(ref);
        await sub.close();
        expect(await all(sub)).toEqual([]);
      });

      it("closing a subscription from inside its loop stops the delivery", async () => {
        const ref = await env();
        await appendMany(log, ref, 10);
        const sub = log.subscribe(ref);
        const seen: number[] = [];
        for await (const c of sub) {
          seen.push(c.seq);
          if (c.seq === 4) await sub.close();
        }
        expect(seen).toEqual([1, 2, 3, 4]);
      });

      it("closing the log ends its subscriptions", async () => {
        const ref = await env();
        await appendMany(log, ref, 1);
        const feed = collect(log.subscribe(ref));
        await feed.waitFor(1);
        await log.close();
        await withTimeout(feed.ended, 2_000, "the subscription did not end when the log closed");
      });

      it("deleting an environment ends its subscriptions with LogNotFound", async () => {
        const ref = await env();
        await appendMany(log, ref, 2);
        const feed = collect(log.subscribe(ref));
        await feed.waitFor(2);
        await log.deleteEnv(ref);
        await expect(withTimeout(feed.ended, 2_000, "the subscription did not end")).rejects.toBeInstanceOf(LogNotFound);
      });

      it("a subscription to a missing environment fails with LogNotFound", async () => {
        const sub = log.subscribe(logRef(project(), "nowhere"));
        await expect(all(sub)).rejects.toBeInstanceOf(LogNotFound);
      });
    });

    describe("durability", () => {
      it("a closed and reopened log holds every commit and appends continue at the next sequence", async () => {
        const ref = await env();
        const run = newRunId();
        const before = [submission(run), [agentConnected("agent-1")], [stepScheduled(run, "next")]] as Event[][];
        for (const events of before) await log.append(ref, events);

        const again = await reopen();
        expect(await again.hasEnv(ref)).toBe(true);
        expect(await again.lastSeq(ref)).toBe(3);
        expect((await all(again.read(ref))).map((c) => c.events)).toEqual(before);
        expect(seqs(await all(again.read(ref, { runId: run })))).toEqual([1, 3]);
        expect(await again.append(ref, [agentConnected("agent-2")], { expectedLastSeq: 3 })).toEqual({ seq: 4, duplicate: false });
        // A retry across the restart is still recognised.
        expect(await again.append(ref, before[0]!)).toEqual({ seq: 1, duplicate: true });
        expect(await again.lastSeq(ref)).toBe(4);
      });

      it("a closed log refuses further use with LogClosed", async () => {
        const ref = await env();
        await log.close();
        await expect(log.append(ref, [agentConnected("a")])).rejects.toBeInstanceOf(LogClosed);
        await expect(log.lastSeq(ref)).rejects.toBeInstanceOf(LogClosed);
        await expect(all(log.read(ref))).rejects.toBeInstanceOf(LogClosed);
        await log.close(); // idempotent
      });
    });

    describe("validation", () => {
      it("invalid project and environment names are refused with InvalidNameError", () => {
        for (const [p, e] of [
          ["bad.name", "x"],
          ["shop", "bad.name"],
          ["shop", "with space"],
          ["shop", "under_score"],
          ["wild*", "x"],
          ["shop", ">"],
          ["", "x"],
          ["-leading", "x"],
          ["x".repeat(65), "x"],
        ] as const) {
          expect(() => logRef(p, e), `${p}/${e}`).toThrow(InvalidNameError);
        }
      });

      it("an event with an invalid run id is refused with InvalidNameError and nothing is stored", async () => {
        const ref = await env();
        const bad = { ...runSubmitted(newRunId()), runId: "run.with.dots" as RunId };
        await expect(log.append(ref, [bad])).rejects.toBeInstanceOf(InvalidNameError);
        await expect(log.append(ref, [{ ...bad, runId: "run>" as RunId }])).rejects.toBeInstanceOf(InvalidNameError);
        expect(await log.lastSeq(ref)).toBe(0);
        await expect(all(log.read(ref, { runId: "a.b" as RunId }))).rejects.toBeInstanceOf(InvalidNameError);
        expect(() => log.subscribe(ref, { runId: "a.*" as RunId })).toThrow(InvalidNameError);
      });

      it("an empty commit is rejected with InvalidCommit and the log is unchanged", async () => {
        const ref = await env();
        await appendMany(log, ref, 1);
        await expect(log.append(ref, [])).rejects.toBeInstanceOf(InvalidCommit);
        expect(await log.lastSeq(ref)).toBe(1);
      });

      it("a commit mixing two runs, or a run and the environment, is rejected with InvalidCommit", async () => {
        const ref = await env();
        await appendMany(log, ref, 1);
        await expect(log.append(ref, [runSubmitted(newRunId()), runSubmitted(newRunId())])).rejects.toBeInstanceOf(
          InvalidCommit,
        );
        await expect(log.append(ref, [runSubmitted(newRunId()), agentConnected("a")])).rejects.toBeInstanceOf(InvalidCommit);
        await expect(log.append(ref, [agentConnected("a"), runSubmitted(newRunId())])).rejects.toBeInstanceOf(InvalidCommit);
        expect(await log.lastSeq(ref)).toBe(1);
        expect(seqs(await all(log.read(ref)))).toEqual([1]);
      });

      it("an event that would not decode is refused with InvalidEvent naming its type and field, and nothing is stored", async () => {
        const ref = await env();
        await appendMany(log, ref, 1);
        // The poison of issue 8: a manifest whose option timeoutMs is a string.
        const poison = {
          id: agentConnected("x").id,
          type: "ManifestRegistered",
          v: 1,
          at: 1_700_000_000_000,
          data: {
            repository: "orders",
            agentId: "agent-1",
            targets: [{ name: "charge", kind: "task", parameters: [], options: { timeoutMs: "soon" } }],
          },
        } as unknown as ManifestRegistered;
        const refused = await log.append(ref, [poison]).catch((e: unknown) => e);
        expect(refused).toBeInstanceOf(InvalidEvent);
        expect(refused).toBeInstanceOf(InvalidCommit);
        expect(refused).toMatchObject({ eventType: "ManifestRegistered", index: 0 });
        expect((refused as Error).message).toMatch(/ManifestRegistered.*targets\[0\]\.options\.timeoutMs must be a whole number >= 0/);
        // A bad event anywhere in a commit refuses the whole commit.
        const second = await log.append(ref, [agentConnected("ok"), { ...agentConnected("bad"), data: { agentId: 7 } } as never]).catch((e: unknown) => e);
        expect(second).toMatchObject({ eventType: "AgentConnected", index: 1 });
        expect((second as Error).message).toMatch(/agentId must be a string/);
        expect(await log.lastSeq(ref)).toBe(1);
        expect(await log.append(ref, [agentConnected("after")])).toEqual({ seq: 2, duplicate: false });
        expect(seqs(await all(log.read(ref)))).toEqual([1, 2]);
      });

      it("a commit larger than MAX_COMMIT_BYTES is rejected with InvalidCommit and the log is unchanged", async () => {
        const ref = await env();
        await appendMany(log, ref, 1);
        const huge = stepScheduled(newRunId(), "upload", { arguments: [new Uint8Array(MAX_COMMIT_BYTES + 1)] });
        await expect(log.append(ref, [huge])).rejects.toBeInstanceOf(InvalidCommit);
        expect(await log.lastSeq(ref)).toBe(1);
        expect(await log.append(ref, [agentConnected("after")])).toEqual({ seq: 2, duplicate: false });
      });
    });

    describe("raw reads", () => {
      it("readRaw yields every commit's stored bytes in order, and they decode to what read returns", async () => {
        const ref = await env();
        const run = newRunId();
        await log.append(ref, submission(run));
        await appendMany(log, ref, 3);
        const raw = await all(log.readRaw(ref));
        expect(raw.map((c) => c.seq)).toEqual([1, 2, 3, 4]);
        const read = await all(log.read(ref));
        expect(raw.map((c) => decodeCommit(c.bytes, c.seq))).toEqual(read.map((c) => c.events));
        expect((await all(log.readRaw(ref, { from: 2, to: 3 }))).map((c) => c.seq)).toEqual([2, 3]);
        expect(await all(log.readRaw(ref, { from: 5 }))).toEqual([]);
      });

      it("readRaw reads past commits that do not decode, where read stops at the first naming its sequence", async () => {
        const ref = await env();
        await appendMany(log, ref, 2);
        await log.close();
        await fixture.writeUnderneath(ref, new Uint8Array([0x54, 0x01, 0xde, 0xad, 0xbe, 0xef, 0x90]));
        // Framed with a good checksum, but an event the decoder refuses.
        await fixture.writeUnderneath(ref, encodeCommit([{ ...agentConnected("x"), data: { agentId: 1 } } as never]));
        log = await fixture.reopen();
        logs.push(log);
        await log.append(ref, [agentConnected("after")]);
        const raw = await all(log.readRaw(ref));
        expect(raw.map((c) => c.seq)).toEqual([1, 2, 3, 4, 5]);
        const failing = raw.flatMap((c) => {
          try {
            decodeCommit(c.bytes, c.seq);
            return [];
          } catch (e) {
            return [e as CorruptEvent];
          }
        });
        expect(failing.map((e) => e.seq)).toEqual([3, 4]);
        expect(failing[0]!.message).toMatch(/sequence 3: checksum mismatch/);
        expect(failing[1]!.message).toMatch(/sequence 4: .*agentId must be a string/);
        await expect(all(log.read(ref))).rejects.toThrow(/corrupt event at sequence 3/);
      });
    });

    describe("environments", () => {
      it("an environment whose log was never created fails with LogNotFound", async () => {
        const ref = logRef(project(), "never");
        expect(await log.hasEnv(ref)).toBe(false);
        await expect(log.append(ref, [agentConnected("a")])).rejects.toBeInstanceOf(LogNotFound);
        await expect(log.lastSeq(ref)).rejects.toBeInstanceOf(LogNotFound);
        await expect(all(log.read(ref))).rejects.toBeInstanceOf(LogNotFound);
        await expect(all(log.read(ref, { from: 1, to: 5 }))).rejects.toBeInstanceOf(LogNotFound);
        expect(await log.hasEnv(ref)).toBe(false);
      });

      it("creating an environment twice keeps its log", async () => {
        const ref = await env();
        expect(await log.hasEnv(ref)).toBe(true);
        await appendMany(log, ref, 2);
        await log.createEnv(ref);
        expect(await log.lastSeq(ref)).toBe(2);
      });

      it("deleting an environment removes its log, and recreating it starts again at sequence 1", async () => {
        const ref = await env();
        const run = newRunId();
        await log.append(ref, submission(run));
        await appendMany(log, ref, 2);
        await log.deleteEnv(ref);
        expect(await log.hasEnv(ref)).toBe(false);
        await expect(log.lastSeq(ref)).rejects.toBeInstanceOf(LogNotFound);
        await log.deleteEnv(ref); // idempotent

        await log.createEnv(ref);
        expect(await log.lastSeq(ref)).toBe(0);
        expect(await all(log.read(ref, { runId: run }))).toEqual([]);
        expect(await log.append(ref, [agentConnected("fresh")])).toEqual({ seq: 1, duplicate: false });
      });

      it("deleting an environment that does not exist does nothing", async () => {
        await log.deleteEnv(logRef(project(), "ghost"));
      });

      it("two environments of one project are isolated", async () => {
        const p = project();
        const prod = await env(p, "production");
        const dev = await env(p, "dev");
        const run = newRunId();
        await log.append(prod, submission(run));
        await appendMany(log, prod, 2);
        await log.append(dev, [agentConnected("dev-agent")]);
        expect(await log.lastSeq(prod)).toBe(3);
        expect(await log.lastSeq(dev)).toBe(1);
        expect(seqs(await all(log.read(dev)))).toEqual([1]);
        expect(await all(log.read(dev, { runId: run }))).toEqual([]);
        // Fencing and dedup are per environment too.
        expect(await log.append(dev, submission(run), { expectedLastSeq: 1 })).toEqual({ seq: 2, duplicate: false });
        await log.deleteEnv(dev);
        expect(await log.lastSeq(prod)).toBe(3);
      });

      it("two projects are isolated", async () => {
        const one = await env(project(), "production");
        const two = await env(project(), "production");
        await appendMany(log, one, 3);
        await appendMany(log, two, 1);
        expect(await log.lastSeq(one)).toBe(3);
        expect(await log.lastSeq(two)).toBe(1);
        expect((await all(log.read(two)))[0]!.subject).toBe(envSubject(two));
        await log.deleteEnv(one);
        expect(await log.hasEnv(two)).toBe(true);
        expect(await log.lastSeq(two)).toBe(1);
      });
    });
  });
}

// ---------------------------------------------------------------------------

const all = async <T>(it: AsyncIterable<T>): Promise<T[]> => {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
};

const seqs = (commits: readonly Commit[]): number[] => commits.map((c) => c.seq);

/** Appends `n` single-event environment commits, awaited one by one; returns their events. */
const appendMany = async (log: EventLog, ref: LogRef, n: number): Promise<Event[][]> => {
  const out: Event[][] = [];
  for (let i = 0; i < n; i++) {
    const events = [agentConnected(`agent-${i}`)];
    await log.append(ref, events);
    out.push(events);
  }
  return out;
};

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const withTimeout = async <T>(p: Promise<T>, ms: number, message: string): Promise<T> => {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
};

/** Iterates a subscription in the background, collecting what it delivers. */
const collect = (sub: Subscription) => {
  const commits: Commit[] = [];
  let wake: (() => void) | undefined;
  let failure: unknown;
  const ended = (async () => {
    try {
      for await (const c of sub) {
        commits.push(c);
        wake?.();
      }
    } catch (e) {
      failure = e;
      throw e;
    } finally {
      wake?.();
    }
  })();
  ended.catch(() => undefined);
  let finished = false;
  void ended.finally(() => (finished = true)).catch(() => undefined);

  return {
    commits,
    ended,
    /** Resolves once `n` commits arrived; fails after 5 s or if the feed ends first. */
    async waitFor(n: number): Promise<void> {
      const deadline = Date.now() + 5_000;
      while (commits.length < n) {
        if (failure) throw failure;
        if (finished) throw new Error(`the subscription ended after ${commits.length} of ${n} commits`);
        if (Date.now() > deadline) throw new Error(`only ${commits.length} of ${n} commits arrived within 5 s`);
        await withTimeout(
          new Promise<void>((r) => (wake = r)),
          200,
          "poll",
        ).catch(() => undefined);
      }
    },
    /** Closes the subscription and waits for the iteration to end (within 1 s). */
    async close(): Promise<void> {
      await sub.close();
      await withTimeout(ended, 1_000, "the subscription's iteration did not end within 1 s of close()");
    },
  };
};
