/** The blob-refs projection: which blobs an environment refers to, and what an environment sees of them. */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { decodeCommit } from "../../src/events/codec.js";
import { IdGenerator, type Commit, type Event } from "../../src/events/index.js";
import { modelOf } from "../../src/orchestrator/core/model.js";
import { blobKeysOf, getBlobRef, MemoryStore, PROJECTIONS } from "../../src/projections/index.js";

let now = 1_700_000_000_000;
const ids = new IdGenerator(() => now, (b) => b.fill(3));

type Data<T extends Event["type"]> = Extract<Event, { type: T }>["data"];
const run = <T extends Event["type"]>(type: T, data: Data<T>, runId = "r1"): Event =>
  ({ id: ids.next(), type, v: 1, at: (now += 10), runId, data }) as unknown as Event;
const env = <T extends Event["type"]>(type: T, data: Data<T>): Event => ({ id: ids.next(), type, v: 1, at: (now += 10), data }) as unknown as Event;

const hex = (c: string) => c.repeat(64);
const ref = (c: string) => ({ key: `sha256:${hex(c)}`, size: 10, sha256: hex(c) });
const target = { repository: "shop", target: "checkout" };

const storeOf = (envName: string, ...commits: Event[][]) => {
  const store = new MemoryStore(PROJECTIONS);
  const all = [[env("EnvironmentCreated", { project: "p", env: envName } as never)], ...commits];
  store.apply(all.map((events, i): Commit => ({ seq: i + 1, id: events[0]!.id, subject: "s", events })));
  return store;
};

describe("the blob-refs projection", () => {
  it("records each blob an event refers to, with how and where it was first referred to", () => {
    const s = storeOf(
      "production",
      [run("RunSubmitted", { target, arguments: [], argumentsBlob: ref("a"), rootStepId: "s1" } as never)],
      [run("StepScheduled", { stepId: "s2", target, kind: "task", arguments: [], argumentsBlob: ref("b"), options: {} } as never)],
      [run("ExecutionSucceeded", { executionId: "x1", stepId: "s2", result: { kind: "blob", blob: ref("c") } } as never)],
      [run("StepResultReused", { stepId: "s3", cacheKey: "k", source: {}, result: { kind: "blob", blob: ref("d") } } as never, "r2")],
      [
        run("AssetPersisted", {
          assetId: "as1",
          executionId: "x1",
          stepId: "s2",
          entries: [
            { path: "a.txt", size: 1, sha256: hex("e"), blobKey: `sha256:${hex("e")}` },
            { path: "b.txt", size: 1, sha256: hex("f"), blobKey: `sha256:${hex("f")}` },
          ],
        } as never),
      ],
    );
    expect(getBlobRef(s, `sha256:${hex("a")}`)).toEqual({ key: `sha256:${hex("a")}`, use: "arguments", runId: "r1", seq: 2 });
    expect(getBlobRef(s, `sha256:${hex("b")}`)).toMatchObject({ use: "arguments", seq: 3 });
    expect(getBlobRef(s, `sha256:${hex("c")}`)).toMatchObject({ use: "result", seq: 4 });
    expect(getBlobRef(s, `sha256:${hex("d")}`)).toMatchObject({ use: "result", runId: "r2", seq: 5 });
    expect(getBlobRef(s, `sha256:${hex("e")}`)).toMatchObject({ use: "asset", seq: 6 });
    expect(getBlobRef(s, `sha256:${hex("f")}`)).toMatchObject({ use: "asset", seq: 6 });
    expect([...s.range("blob-refs")]).toHaveLength(6);
  });

  it("keeps the first reference when a blob is referred to again", () => {
    const s = storeOf(
      "production",
      [run("ExecutionSucceeded", { executionId: "x1", stepId: "s1", result: { kind: "blob", blob: ref("a") } } as never)],
      [run("RunSubmitted", { target, arguments: [], argumentsBlob: ref("a"), rootStepId: "s1" } as never, "r9")],
    );
    expect(getBlobRef(s, `sha256:${hex("a")}`)).toEqual({ key: `sha256:${hex("a")}`, use: "result", runId: "r1", seq: 2 });
  });

  it("counts an upload through the environment (BlobStored) as a reference, with no run", () => {
    const s = storeOf("dev", [env("BlobStored", { key: `sha256:${hex("a")}`, size: 10 } as never)], [
      run("AssetPersisted", { assetId: "as1", executionId: "x1", stepId: "s1", entries: [{ path: "a", size: 10, sha256: hex("a"), blobKey: `sha256:${hex("a")}` }] } as never),
    ]);
    expect(getBlobRef(s, `sha256:${hex("a")}`)).toStrictEqual({ key: `sha256:${hex("a")}`, use: "upload", seq: 2 });
    expect(modelOf(s).blobRef(`sha256:${hex("a")}`)).toMatchObject({ env: "dev", ref: { use: "upload" } });
  });

  it("ignores inline values and events that carry no blob, and names an asset's repeated blob once", () => {
    expect(blobKeysOf(run("RunSubmitted", { target, arguments: [1], rootStepId: "s1" } as never))).toEqual([]);
    expect(blobKeysOf(run("ExecutionSucceeded", { executionId: "x1", stepId: "s1", result: { kind: "inline", value: "sha256:" + hex("a") } } as never))).toEqual([]);
    expect(blobKeysOf(run("AssetRestored", { assetId: "as1", executionId: "x1", stepId: "s1" } as never))).toEqual([]);
    const same = { size: 1, sha256: hex("e"), blobKey: `sha256:${hex("e")}` };
    expect(blobKeysOf(run("AssetPersisted", { assetId: "as1", executionId: "x1", stepId: "s1", entries: [{ path: "a", ...same }, { path: "b", ...same }] } as never))).toEqual([
      `sha256:${hex("e")}`,
    ]);
  });
});

describe("what an environment sees of blobs (Model.blobRef)", () => {
  const base = storeOf("production", [run("ExecutionSucceeded", { executionId: "x1", stepId: "s1", result: { kind: "blob", blob: ref("a") } } as never)]);
  const own = storeOf("dev", [run("RunSubmitted", { target, arguments: [], argumentsBlob: ref("b"), rootStepId: "s1" } as never, "r5")]);
  const other = storeOf("staging", [run("RunSubmitted", { target, arguments: [], argumentsBlob: ref("c"), rootStepId: "s1" } as never, "r6")]);

  it("sees its own references first, then those of what it inherits from, naming the environment", () => {
    const model = modelOf(own, () => [{ env: "production" as never, src: base }]);
    expect(model.blobRef(`sha256:${hex("b")}`)).toMatchObject({ env: "dev", ref: { use: "arguments", runId: "r5" } });
    expect(model.blobRef(`sha256:${hex("a")}`)).toMatchObject({ env: "production", ref: { use: "result", runId: "r1" } });
  });

  it("does not see a blob that only an environment it does not inherit from refers to", () => {
    const model = modelOf(own, () => [{ env: "production" as never, src: base }]);
    expect(getBlobRef(other, `sha256:${hex("c")}`)).toBeDefined();
    expect(model.blobRef(`sha256:${hex("c")}`)).toBeUndefined();
    // Nor does a base see what an environment built on it refers to.
    expect(modelOf(base).blobRef(`sha256:${hex("b")}`)).toBeUndefined();
  });
});

describe("the blob-refs projection over the log recorded with 0.1.0", () => {
  it("folds it, and knows exactly the blob keys its events carry", () => {
    const file = readFileSync(new URL("../fixtures/logs/v0.1.0.bin", import.meta.url));
    const commits: Commit[] = [];
    for (let at = 0, seq = 1; at < file.length; seq++) {
      const n = file.readUInt32BE(at);
      const events = decodeCommit(file.subarray(at + 4, at + 4 + n), seq);
      commits.push({ seq, id: events[0]!.id, subject: "s", events });
      at += 4 + n;
    }
    const store = new MemoryStore(PROJECTIONS);
    store.apply(commits);
    // Every string of the form of a blob key anywhere in the events' data (but cache and memo keys, which have that form
    // too): an oracle independent of the projection's own list of event types.
    const found = new Set<string>();
    const walk = (v: unknown): void => {
      if (typeof v === "string" && /^sha256:[0-9a-f]{64}$/.test(v)) found.add(v);
      else if (Array.isArray(v)) v.forEach(walk);
      else if (v !== null && typeof v === "object" && !(v instanceof Uint8Array)) {
        for (const [k, x] of Object.entries(v)) if (k !== "cacheKey" && k !== "memoKey") walk(x);
      }
    };
    for (const c of commits) for (const e of c.events) walk(e.data);
    expect(found.size).toBeGreaterThan(0);
    expect([...store.range("blob-refs")].map(([k]) => k).sort()).toEqual([...found].sort());
  });
});
