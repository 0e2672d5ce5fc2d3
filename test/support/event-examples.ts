/**
 * Hand-written events for codec and replay tests: one fully populated
 * example of every event type and one with its optional fields absent, and
 * values at the edges of what the codec carries (bigints past 64 bits,
 * dates, bytes, deep nesting, unicode, empty containers). Fixed ids and
 * times, so the examples are the same on every run.
 */
import { IdGenerator, type AgentId, type AssetId, type EnvName, type EventId, type ExecutionId } from "../../src/events/ids.js";
import type { ProjectName, RunId, StepId } from "../../src/events/ids.js";
import type { Principal } from "../../src/events/principal.js";
import { CURRENT_VERSION, type Event, type EventOf, type EventType, type Value } from "../../src/events/types.js";
import { Random } from "./prng.js";

/** The time of every example, ms since the epoch. */
export const T0 = Date.UTC(2025, 2, 1, 9, 30, 0);
const idRandom = new Random(1);
const ids = new IdGenerator(
  () => T0,
  (b) => idRandom.fill(b),
);
/** A fresh sortable event id (all at {@link T0}, increasing). */
export const eventId = () => ids.next() as EventId;

// Ids and names the examples refer to.
export const RUN = "01JN8A4W7X2C9H5Q3R6T8V0Y1Z" as RunId;
export const STEP = "01JN8A4W7X2C9H5Q3R6T8V0Y20" as StepId;
export const EXEC = "01JN8A4W7X2C9H5Q3R6T8V0Y21" as ExecutionId;
export const AGENT = "worker-eu-1" as AgentId;
export const ASSET = "01JN8A4W7X2C9H5Q3R6T8V0Y22" as AssetId;
export const target = { repository: "github.com/acme/data-pipelines", target: "dailyEtl" };
export const SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
export const blob = { key: `sha256:${SHA}`, size: 7_340_032, sha256: SHA };

/** A run event of the current version of `type`, in run {@link RUN} at {@link T0}. */
export const runEvent = <T extends EventType>(type: T, data: EventOf<T>["data"]): EventOf<T> =>
  ({ id: eventId(), type, v: CURRENT_VERSION[type], at: T0, runId: RUN, data }) as unknown as EventOf<T>;
/** An environment event of the current version of `type`, at {@link T0}. */
export const envEvent = <T extends EventType>(type: T, data: EventOf<T>["data"]): EventOf<T> =>
  ({ id: eventId(), type, v: CURRENT_VERSION[type], at: T0, data }) as unknown as EventOf<T>;

/** `e` as caused by `by` (the envelope's principal). */
export const attributed = <E extends Event>(e: E, by: Principal): E => ({ ...e, by });

/** Nested arrays and objects, alternating, `depth` levels deep. */
export const deep = (depth: number): Value =>
  depth === 0 ? "bottom" : depth % 2 ? [deep(depth - 1), depth] : { level: depth, next: deep(depth - 1) };

/** Values at the edges of what the codec carries. */
export const VALUES: Record<string, Value> = {
  null: null,
  true: true,
  false: false,
  zero: 0,
  "small ints": [1, -1, 127, 128, -32, -33, 255, 256, 65_535, 65_536],
  "32-bit edges": [2 ** 31 - 1, -(2 ** 31), 2 ** 32 - 1, 2 ** 32],
  "safe integer edges": [Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER],
  floats: [0.1, -1.5e-7, 1e300, Number.MIN_VALUE, Number.MAX_VALUE, Infinity, -Infinity, NaN],
  "empty string": "",
  unicode: [
    "héllo wörld",
    "日本語のテキスト",
    "🚀 emoji 👩‍💻 with ZWJ",
    "\u0000nul\u0001",
    "right-to-left עברית",
    "\uD834\uDD1E",
  ],
  "long string": "x".repeat(70_000),
  "small bigints": [0n, 1n, -1n, 255n, -(2n ** 31n)],
  "64-bit bigints": [2n ** 63n - 1n, -(2n ** 63n), 2n ** 64n - 1n],
  "huge bigints": [2n ** 64n, -(2n ** 64n), 2n ** 200n + 12_345n, -(2n ** 521n - 1n), 10n ** 100n],
  dates: [new Date(0), new Date(T0), new Date(T0 + 123), new Date(-1e12), new Date(8.64e15), new Date(-8.64e15)],
  bytes: [new Uint8Array(), new Uint8Array([0, 255, 1]), new Random(2).bytes(4_096)],
  "empty containers": [[], {}, [[]], { a: {} }, [{}]],
  "odd keys": { "": "empty key", ключ: 1, "with.dot": [1, "x", null], "with space": true, "0": "digit key" },
  "depth 60": deep(60),
  mixed: { when: new Date(T0), raw: new Uint8Array([1, 2, 3]), big: -(2n ** 70n), list: [null, "", 0, { nested: [new Date(1)] }] },
};
/** All of {@link VALUES}, as one argument list. */
export const allValues: Value[] = Object.values(VALUES);

/**
 * One fully populated example of every event type, and one with every
 * optional field absent. `satisfies` makes a new event type a compile error
 * here until it has examples.
 */
export const EXAMPLES = {
  RunSubmitted: [
    attributed(
      runEvent("RunSubmitted", {
        target,
        arguments: allValues,
        rootStepId: STEP,
        idempotencyKey: "daily-2025-03-01",
        parent: { runId: "01JN8A4W7X2C9H5Q3R6T8V0Y30" as RunId, stepId: STEP, executionId: EXEC },
      }),
      { kind: "token", tokenId: "k3v9q2m7x4p8r1t6", name: "ci of acme" },
    ),
    runEvent("RunSubmitted", { target, arguments: [], rootStepId: STEP }),
  ],
  RunCancelled: [attributed(runEvent("RunCancelled", { reason: "cancelled by alice@acme.dev" }), { kind: "admin" }), runEvent("RunCancelled", { reason: "" })],
  StepScheduled: [
    runEvent("StepScheduled", {
      stepId: STEP,
      target: { repository: "github.com/acme/ml-platform", target: "trainModel" },
      kind: "task",
      arguments: ["clickstream", { lr: 0.001, seed: 2n ** 40n }, new Date(T0)],
      options: {
        retries: { limit: 3, delayMs: 200, factor: 2, maxDelayMs: 5_000, retryOn: ["ConnectionResetError"] },
        timeoutMs: 60_000,
        requires: { gpu: ["a100", "h100"], region: [] },
        delayMs: 0,
        cache: { maxAgeMs: 86_400_000, namespace: "v3" },
        memo: true,
        defer: false,
      },
      cacheKey: "sha256:4b227777d4dd1fc61c6f884f48641d02b4d121d3fd328cb08b5531fcacdabf8a",
      memoKey: "7a1f0c",
      parentExecutionId: EXEC,
    }),
    runEvent("StepScheduled", { stepId: STEP, target, kind: "workflow", arguments: [], options: {} }),
    runEvent("StepScheduled", {
      stepId: STEP,
      target,
      kind: "task",
      arguments: [],
      options: { retries: { limit: 0, delayMs: 0, factor: 1, maxDelayMs: 0 }, cache: {} },
    }),
    runEvent("StepScheduled", {
      stepId: STEP,
      target,
      kind: "task",
      arguments: ["acme"],
      options: { concurrency: [{ key: "target:shop:sync:acme", limit: 1 }, { key: "group:db", limit: 4 }], group: "db" },
    }),
  ],
  ExecutionCreated: [
    runEvent("ExecutionCreated", { executionId: EXEC, stepId: STEP, attempt: 2, reason: "retry", notBefore: T0 + 400 }),
    runEvent("ExecutionCreated", { executionId: EXEC, stepId: STEP, attempt: 1, reason: "first" }),
    runEvent("ExecutionCreated", { executionId: EXEC, stepId: STEP, attempt: 3, reason: "rerun" }),
    runEvent("ExecutionCreated", { executionId: EXEC, stepId: STEP, attempt: 4, reason: "retry", resumes: EXEC }),
    runEvent("ExecutionCreated", { executionId: EXEC, stepId: STEP, attempt: 5, reason: "resume", resumes: EXEC, notBefore: T0 + 60_000, resumeWhen: [`${RUN}/${STEP}`] }),
    runEvent("ExecutionCreated", { executionId: EXEC, stepId: STEP, attempt: 6, reason: "recur", notBefore: T0 + 1000 }),
  ],
  ExecutionAssigned: [runEvent("ExecutionAssigned", { executionId: EXEC, stepId: STEP, agentId: AGENT })],
  ExecutionStarted: [
    attributed(runEvent("ExecutionStarted", { executionId: EXEC, stepId: STEP }), { kind: "agent", agentId: AGENT, tokenId: "a0b1c2d3e4f5g6h7" }),
    runEvent("ExecutionStarted", { executionId: EXEC, stepId: STEP }),
  ],
  ExecutionSucceeded: [
    runEvent("ExecutionSucceeded", { executionId: EXEC, stepId: STEP, result: { kind: "inline", value: VALUES.mixed! } }),
    runEvent("ExecutionSucceeded", { executionId: EXEC, stepId: STEP, result: { kind: "inline", value: null } }),
    runEvent("ExecutionSucceeded", { executionId: EXEC, stepId: STEP, result: { kind: "blob", blob } }),
  ],
  ExecutionFailed: [
    runEvent("ExecutionFailed", {
      executionId: EXEC,
      stepId: STEP,
      error: {
        type: "RangeError",
        message: "index 7 is out of range",
        stack: "RangeError: index 7 is out of range\n    at pick (/srv/agent/src/pick.ts:3:9)",
        retryable: false,
      },
    }),
    runEvent("ExecutionFailed", { executionId: EXEC, stepId: STEP, error: { type: "Error", message: "", retryable: true } }),
  ],
  ExecutionCancelled: [runEvent("ExecutionCancelled", { executionId: EXEC, stepId: STEP, reason: "run cancelled" })],
  ExecutionTimedOut: [runEvent("ExecutionTimedOut", { executionId: EXEC, stepId: STEP, timeoutMs: 30_000 })],
  ExecutionAbandoned: [
    runEvent("ExecutionAbandoned", { executionId: EXEC, stepId: STEP, agentId: AGENT, reason: "missed 3 heartbeats" }),
    runEvent("ExecutionAbandoned", { executionId: EXEC, stepId: STEP, agentId: AGENT, reason: "not running on its agent", cause: "server-restart" }),
  ],
  StepResultReused: [
    runEvent("StepResultReused", {
      stepId: STEP,
      cacheKey: "sha256:4b22",
      source: { env: "production" as EnvName, runId: RUN, stepId: STEP, executionId: EXEC, seq: 1_234_567 },
      result: { kind: "inline", value: { rows: 12n, at: new Date(T0) } },
    }),
    runEvent("StepResultReused", {
      stepId: STEP,
      cacheKey: "k",
      source: { env: "staging" as EnvName, runId: RUN, stepId: STEP, executionId: EXEC, seq: 1 },
      result: { kind: "blob", blob },
    }),
  ],
  StepDeferred: [runEvent("StepDeferred", { stepId: STEP, to: { runId: RUN, stepId: STEP, executionId: EXEC } })],
  CallResumed: [
    runEvent("CallResumed", {
      executionId: EXEC,
      callId: `${EXEC}/3`,
      resumedCallId: "01J8Z3Q6G0000000000000RUN1-1-1/3",
      step: { runId: RUN, stepId: STEP },
    }),
  ],
  AssetPersisted: [
    runEvent("AssetPersisted", {
      assetId: ASSET,
      executionId: EXEC,
      stepId: STEP,
      name: "model",
      metadata: { framework: "torch", params: 110_000_000n, trainedAt: new Date(T0), card: new Uint8Array([35, 32]) },
      entries: [
        { path: "model.safetensors", size: 440_473_133, sha256: "ab".repeat(32), blobKey: `sha256:${"ab".repeat(32)}` },
        { path: "nested/dir/config.json", size: 0, sha256: "cd".repeat(32), blobKey: `sha256:${"cd".repeat(32)}` },
      ],
    }),
    runEvent("AssetPersisted", { assetId: ASSET, executionId: EXEC, stepId: STEP, entries: [] }),
  ],
  AssetRestored: [
    runEvent("AssetRestored", { assetId: ASSET, executionId: EXEC, stepId: STEP, fromEnv: "production" as EnvName, to: "inputs/model" }),
    runEvent("AssetRestored", { assetId: ASSET, executionId: EXEC, stepId: STEP }),
  ],
  ManifestRegistered: [
    envEvent("ManifestRegistered", {
      repository: "github.com/acme/ml-platform",
      agentId: AGENT,
      targets: [
        {
          name: "trainModel",
          kind: "task",
          parameters: [
            { name: "dataset", annotation: "string" },
            { name: "epochs", annotation: "number", default: "10" },
            { name: "rest" },
          ],
          options: { timeoutMs: 3_600_000, requires: { gpu: ["a100"] } },
        },
        { name: "trainPipeline", kind: "workflow", parameters: [], options: {} },
      ],
    }),
    envEvent("ManifestRegistered", { repository: "r", agentId: AGENT, targets: [] }),
  ],
  AgentConnected: [
    envEvent("AgentConnected", {
      agentId: AGENT,
      tags: { pool: ["cpu"], region: ["eu-west-1", "eu-west-2"] },
      repositories: ["github.com/acme/data-pipelines", "github.com/acme/ml-platform"],
      concurrency: 8,
    }),
    envEvent("AgentConnected", { agentId: AGENT, tags: {}, repositories: [], concurrency: 0 }),
  ],
  AgentDisconnected: [envEvent("AgentDisconnected", { agentId: AGENT, reason: "connection closed" })],
  EnvironmentCreated: [
    envEvent("EnvironmentCreated", { project: "acme" as ProjectName, env: "staging" as EnvName, base: "production" as EnvName }),
    envEvent("EnvironmentCreated", { project: "acme" as ProjectName, env: "production" as EnvName }),
  ],
  EnvironmentBranched: [
    attributed(envEvent("EnvironmentBranched", { project: "acme" as ProjectName, env: "feature-x" as EnvName, parent: "staging" as EnvName, at: 42 }), {
      kind: "token",
      tokenId: "k3v9q2m7x4p8r1t6",
    }),
  ],
  EnvironmentRebased: [envEvent("EnvironmentRebased", { base: "production" as EnvName }), envEvent("EnvironmentRebased", { base: null })],
  EnvironmentArchived: [envEvent("EnvironmentArchived", { reason: "merged" }), envEvent("EnvironmentArchived", {})],
  EnvironmentPaused: [envEvent("EnvironmentPaused", { reason: "maintenance" }), envEvent("EnvironmentPaused", {})],
  EnvironmentResumed: [envEvent("EnvironmentResumed", {})],
  ExecutionProgressed: [
    runEvent("ExecutionProgressed", { executionId: EXEC, stepId: STEP, fraction: 0.25, message: "epoch 1 of 4" }),
    runEvent("ExecutionProgressed", { executionId: EXEC, stepId: STEP, fraction: 1 }),
    runEvent("ExecutionProgressed", { executionId: EXEC, stepId: STEP, message: "warming up" }),
  ],
  MetricRecorded: [runEvent("MetricRecorded", { executionId: EXEC, stepId: STEP, name: "loss", value: 0.125 }), runEvent("MetricRecorded", { executionId: EXEC, stepId: STEP, name: "rows", value: -3 })],
  TokenCreated: [
    attributed(
      envEvent("TokenCreated", {
        tokenId: "k3v9q2m7x4p8r1t6",
        name: "ci of acme",
        project: "acme" as ProjectName,
        envs: ["dev", "dev-*"],
        role: "submit",
        hash: SHA,
        expiresAt: T0 + 86_400_000,
      }),
      { kind: "admin" },
    ),
    envEvent("TokenCreated", { tokenId: "a0b1c2d3e4f5g6h7", project: "acme" as ProjectName, envs: ["*"], role: "agent", hash: SHA }),
  ],
  TokenRevoked: [envEvent("TokenRevoked", { tokenId: "k3v9q2m7x4p8r1t6", reason: "leaked" }), envEvent("TokenRevoked", { tokenId: "a0b1c2d3e4f5g6h7" })],
  BlobStored: [
    attributed(envEvent("BlobStored", { key: blob.key, size: blob.size }), { kind: "agent", agentId: AGENT, tokenId: "a0b1c2d3e4f5g6h7" }),
    envEvent("BlobStored", { key: `sha256:${"0".repeat(64)}`, size: 0 }),
  ],
  CheckpointSaved: [
    runEvent("CheckpointSaved", { executionId: EXEC, stepId: STEP, name: "progress", key: `${RUN}/${"7f".repeat(16)}/progress`, value: { kind: "inline", value: { next: 3, done: [1, 2] } } }),
    runEvent("CheckpointSaved", { executionId: EXEC, stepId: STEP, name: "model", key: `${RUN}/${STEP}/model`, value: { kind: "blob", blob } }),
  ],
  PoolCreated: [
    attributed(envEvent("PoolCreated", { name: "gpu", launcher: "process", modules: ["/srv/flows/train.ts"], max: 4, tags: { gpu: ["a100"] } }), { kind: "admin" }),
    envEvent("PoolCreated", { name: "small", launcher: "process", modules: ["/srv/a.ts", "/srv/b.ts"], max: 1, tags: {} }),
  ],
  PoolDeleted: [envEvent("PoolDeleted", { name: "gpu" })],
  ExecutionSuspended: [
    runEvent("ExecutionSuspended", { executionId: EXEC, stepId: STEP, until: T0 + 60_000, callId: `${EXEC}/2` }),
    runEvent("ExecutionSuspended", { executionId: EXEC, stepId: STEP, waitingFor: [`${RUN}/${STEP}`, "input:01JN8A4W7X2C9H5Q3R6T8V0Y23"] }),
    runEvent("ExecutionSuspended", { executionId: EXEC, stepId: STEP }),
  ],
  ExecutionRecurred: [runEvent("ExecutionRecurred", { executionId: EXEC, stepId: STEP })],
  InputRequested: [
    runEvent("InputRequested", {
      inputId: "01JN8A4W7X2C9H5Q3R6T8V0Y23",
      executionId: EXEC,
      stepId: STEP,
      callId: `${EXEC}/4`,
      title: "Approve the refund?",
      schema: { type: "object", properties: { ok: { type: "boolean" }, note: { type: "string", maxLength: 200 } }, required: ["ok"] },
      key: "ab".repeat(32),
    }),
  ],
  InputAnswered: [
    attributed(runEvent("InputAnswered", { inputId: "01JN8A4W7X2C9H5Q3R6T8V0Y23", value: { ok: true, note: "fine" } }), { kind: "token", tokenId: "k3v9q2m7x4p8r1t6", name: "ops" }),
    runEvent("InputAnswered", { inputId: "01JN8A4W7X2C9H5Q3R6T8V0Y23", value: null }),
  ],
} satisfies { [T in EventType]: readonly EventOf<T>[] };

/** Every example of {@link EXAMPLES}, in catalogue order. */
export const allExamples: Event[] = Object.values(EXAMPLES).flat();
