/**
 * An agent's frames, once checked against their schemas, turned into
 * commands: a task started or ended, called a target, asked for a step's
 * result, cancelled a step, persisted or restored an asset, logged a line.
 * Each answer goes back on the agent's connection.
 */
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import * as E from "fp-ts/lib/Either.js";
import {
  parseAssetId,
  parseExecutionId,
  parseField,
  parseRunId,
  parseStepId,
  type AgentId,
  type BlobRef,
  type ExecutionId,
  type Principal,
  type RunId,
  type StepId,
  type Value,
} from "../../events/index.js";
import { packValue } from "../../events/codec.js";
import { keyOf, type BlobStore } from "../../events/storage/blob-store.js";
import { canonicalJson, isFinished, type AssetDoc } from "../../projections/index.js";
import { checkSchema } from "../../protocol/json-schema.js";
import type { AgentMessage, AssetRef, HandleRef, ServerMessage } from "../../protocol/messages.js";
import { assetIdOf, callIdOf, checkpointKeyOf, rejectionMessage, type Command } from "../core/index.js";
import { promptedInput } from "../core/deciders/waits.js";
import { stepKeys } from "../keys.js";
import type { Orchestration } from "../orchestration.js";
import type { TaskLogs } from "../task-logs.js";

export interface FrameDeps {
  readonly orch: Orchestration;
  readonly logs: TaskLogs;
  /** Where assets' and large results' blobs are; `persist` checks that they are there. */
  readonly blobs?: BlobStore;
  /** Largest asset, in bytes (all its files). */
  readonly maxAssetBytes: number;
}

/** The agent a frame came from. */
export interface FrameSender {
  readonly agentId: AgentId;
  /** Who the agent is, as the author of what its frames cause. */
  readonly by: Principal;
  reply(message: ServerMessage): void;
  /** It reported the end of an execution (a result, or a failure). */
  ended(executionId: string): void;
}

/** The frames that act on the orchestrator (`hello` and `heartbeat` are the session's). */
export type ActingFrame = Exclude<AgentMessage, { type: "hello" | "heartbeat" | "manifests" }>;

/** Results larger than this, encoded, are kept as blobs rather than in the log. */
const INLINE_RESULT_BYTES = 256 * 1024;

/** What agents and the API are told of an asset. */
export const assetRefOf = (env: string, doc: AssetDoc): AssetRef => ({
  assetId: doc.assetId,
  env,
  entries: (doc.persisted?.entries ?? []).map((e) => ({ path: e.path, size: e.size, sha256: e.sha256 })),
  ...(doc.persisted?.name === undefined ? {} : { name: doc.persisted.name }),
  ...(doc.persisted?.metadata === undefined ? {} : { metadata: doc.persisted.metadata }),
});

/** Is run `runId` the run `root`, or one started under it (by its steps, or theirs, ...)? */
const withinRun = (orch: Orchestration, runId: RunId, root: RunId): boolean => {
  const seen = new Set<string>();
  for (let r: RunId | undefined = runId; r !== undefined && !seen.has(r); r = orch.model.run(r)?.parent?.runId) {
    if (r === root) return true;
    seen.add(r);
  }
  return false;
};

/** Acts on one frame. Never throws: problems are answered as `error`. */
export const handleFrame = async (d: FrameDeps, m: ActingFrame, from: FrameSender): Promise<void> => {
  const { orch } = d;
  const { agentId, reply, by } = from;
  const requestId = "requestId" in m ? m.requestId : undefined;
  const fail = (message: string) => reply({ type: "error", ...(requestId === undefined ? {} : { requestId }), message });
  const run = async (cmd: Command): Promise<boolean> => {
    const r = await orch.execute(cmd, { by });
    if (!r.ok) fail(rejectionMessage(r.rejection));
    return r.ok;
  };
  // The ids a frame names, parsed first: one that could be nobody's is refused, naming its field.
  const parsed = parseField(parseExecutionId, "executionId", m.executionId);
  if (E.isLeft(parsed)) return fail(parsed.left);
  const executionId = parsed.right;
  // What an execution asks for (calls, results, cancels, assets, logs) only its agent may ask, while it runs
  // (its log lines may trail its end). `started` and the results are checked by their deciders.
  if (m.type !== "started" && m.type !== "succeeded" && m.type !== "failed") {
    const x = orch.model.execution(executionId);
    // Progress and metrics may trail the end too: their decider drops them then. A suspend re-sent (after a reconnect) finds its execution suspended: it is answered so.
    const trails = m.type === "log" || m.type === "progress" || m.type === "metric";
    const ended = isFinished(x?.status ?? "queued") && !trails && !((m.type === "suspend" || m.type === "prompt") && x?.status === "suspended");
    if (!x || x.agentId !== agentId || ended) {
      return fail(`execution ${executionId} is not one this agent is running: a ${m.type} is asked on behalf of one`);
    }
  }
  try {
    switch (m.type) {
      case "started":
        await run({ type: "RecordStarted", executionId, agentId });
        return;
      case "succeeded":
      case "failed": {
        const outcome = m.type === "failed" ? { ok: false as const, error: m.error, encodedBytes: packValue(m.error).length } : await resultOf(d, m);
        const recorded = await run({ type: "RecordResult", executionId, agentId, outcome });
        // The agent keeps a result until it is acknowledged (or refused: then it drops it).
        if (recorded && m.requestId !== undefined) reply({ type: "ack", requestId: m.requestId });
        from.ended(m.executionId);
        return;
      }
      case "submit":
        reply(await submit(d, executionId, m, by));
        return;
      case "result": {
        const step = stepOf(m.handle);
        if (E.isLeft(step)) return fail(step.left);
        const { runId, stepId } = step.right;
        const outcome = m.wait ? await orch.waitForStepRaw(runId, stepId) : orch.rawOutcome(runId, stepId);
        // A result kept as a blob is the agent's to download: it may be larger than a frame.
        if (outcome && "blob" in outcome) reply({ type: "resolved", requestId: m.requestId, outcome: { status: "succeeded", value: null }, resultBlob: outcome.blob });
        else reply({ type: "resolved", requestId: m.requestId, ...(outcome ? { outcome } : {}) });
        return;
      }
      case "cancel": {
        const step = stepOf(m.handle);
        if (E.isLeft(step)) return fail(step.left);
        // A handle may travel anywhere as a value, but an execution cancels only within its run and the runs under it.
        if (!withinRun(orch, step.right.runId, orch.model.execution(executionId)!.runId)) {
          return fail(`execution ${executionId} may cancel only steps of its run and of the runs it started, not of run ${step.right.runId}`);
        }
        if (await run({ type: "CancelStep", ...step.right, reason: `cancelled by ${m.executionId}` })) reply({ type: "ack", requestId: m.requestId });
        return;
      }
      case "suspend": {
        const waitingFor: string[] = [];
        for (const h of m.waitingFor ?? []) {
          const step = stepOf(h);
          if (E.isLeft(step)) return fail(step.left);
          waitingFor.push(`${step.right.runId}/${step.right.stepId}`);
        }
        const cmd: Command = {
          type: "SuspendExecution",
          executionId,
          agentId,
          ...(m.call === undefined ? {} : { callId: callIdOf(executionId, m.call) }),
          ...(m.until === undefined ? {} : { until: m.until }),
          ...(m.delayMs === undefined ? {} : { delayMs: m.delayMs }),
          ...(waitingFor.length === 0 ? {} : { waitingFor }),
        };
        if (!(await run(cmd))) return;
        const suspended = orch.model.execution(executionId)?.status === "suspended";
        reply({ type: suspended ? "suspended" : "ack", requestId: m.requestId });
        if (suspended) from.ended(m.executionId);
        return;
      }
      case "prompt": {
        const bad = checkSchema(m.schema);
        if (bad) return fail(`prompt(): ${bad}`);
        if (m.call === undefined) return fail("prompt(): the call's position (call) is missing");
        const callId = callIdOf(executionId, m.call);
        // The memo key: the title, the schema and the call's position (a re-run of the step reaches the same).
        const key = createHash("sha256").update(canonicalJson([m.title, m.schema, m.call])).digest("hex");
        const cmd: Command = { type: "RequestInput", executionId, agentId, callId, inputId: orch.newRunId(), title: m.title, schema: m.schema, key };
        if (!(await run(cmd))) return;
        const x = orch.model.execution(executionId);
        const input = x && promptedInput(orch.model, x, callId, key);
        if (x?.status === "suspended") {
          reply({ type: "suspended", requestId: m.requestId });
          from.ended(m.executionId);
        } else if (input?.status === "answered") reply({ type: "answered", requestId: m.requestId, value: input.value ?? null });
        else fail(`execution ${executionId} is not running: its prompt was not recorded`);
        return;
      }
      case "persist":
        reply(await persist(d, from, executionId, m));
        return;
      case "restore": {
        const assetId = parseField(parseAssetId, "assetId", m.assetId);
        if (E.isLeft(assetId)) return fail(assetId.left);
        if (!(await run({ type: "RestoreAsset", executionId, agentId, assetId: assetId.right, ...(m.to === undefined ? {} : { to: m.to }) }))) return;
        const found = orch.model.asset(assetId.right)!;
        reply({ type: "restored", requestId: m.requestId, asset: assetRefOf(found.env, found.doc) });
        return;
      }
      case "save-checkpoint": {
        const r = await resultOf(d, m);
        const value = "blob" in r ? { blob: r.blob } : { value: r.value, ...(r.encodedBytes === undefined ? {} : { encodedBytes: r.encodedBytes }) };
        if (await run({ type: "SaveCheckpoint", executionId, agentId, name: m.name, value })) reply({ type: "ack", requestId: m.requestId });
        return;
      }
      case "load-checkpoint": {
        const x = orch.model.execution(executionId)!;
        const step = orch.model.step(x.runId, x.stepId);
        const found = step ? orch.model.checkpoint(checkpointKeyOf(step, m.name))?.doc.value : undefined;
        if (found?.kind === "blob") reply({ type: "checkpoint", requestId: m.requestId, found: true, value: null, valueBlob: found.blob });
        else reply({ type: "checkpoint", requestId: m.requestId, found: found !== undefined, value: found?.value ?? null });
        return;
      }
      case "log": {
        const x = orch.model.execution(executionId);
        if (x) d.logs.append({ ...m, runId: x.runId, stepId: x.stepId });
        return;
      }
      case "progress":
        await run({ type: "RecordProgress", executionId, agentId, ...(m.fraction === undefined ? {} : { fraction: m.fraction }), ...(m.message === undefined ? {} : { message: m.message }) });
        return;
      case "metric":
        await run({ type: "RecordMetric", executionId, agentId, name: m.name, value: m.value });
        return;
    }
  } catch (e) {
    if (e instanceof BlobRefused) return fail(e.message);
    // Not a refusal: the log or the blob store failed. The agent keeps what it sent and sends it again.
    reply({
      type: "error",
      ...(requestId === undefined ? {} : { requestId }),
      message: `the server could not act on it now (${(e as Error).message}); it will be sent again`,
      retry: true,
    });
  }
};

/** The step a handle names, its ids parsed (or the refusal naming the field). */
const stepOf = (h: HandleRef): E.Either<string, { readonly runId: RunId; readonly stepId: StepId }> => {
  const runId = parseField(parseRunId, "handle.runId", h.runId);
  if (E.isLeft(runId)) return runId;
  const stepId = parseField(parseStepId, "handle.stepId", h.stepId);
  return E.isLeft(stepId) ? stepId : E.right({ runId: runId.right, stepId: stepId.right });
};

/**
 * A result (or a checkpoint's value) as it is recorded: a blob the agent uploaded; a value too large
 * to travel inline in the log stored as a blob (its msgpack bytes), the log
 * recording the reference; or the value, with its encoded size.
 */
const resultOf = async (
  d: FrameDeps,
  m: { readonly value: Value; readonly valueBlob?: BlobRef },
): Promise<Extract<Extract<Command, { type: "RecordResult" }>["outcome"], { ok: true }>> => {
  if (m.valueBlob !== undefined) return { ok: true, blob: await uploaded(d, m.valueBlob) };
  const bytes = packValue(m.value);
  if (!d.blobs || bytes.length <= INLINE_RESULT_BYTES) return { ok: true, value: m.value, encodedBytes: bytes.length };
  const info = await d.blobs.put(Readable.from([Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)]));
  return { ok: true, blob: { key: info.key, size: info.size, sha256: info.sha256 } };
};

/** A blob an agent says it uploaded (a large result): its reference, once it is there with its size and visible here. */
const uploaded = async (d: FrameDeps, b: BlobRef): Promise<BlobRef> => {
  if (b.key !== keyOf(b.sha256)) throw new Error(`valueBlob.key must be "sha256:" + valueBlob.sha256`);
  const hidden = unseen(d, b.key, "the result's blob (valueBlob)");
  if (hidden) throw new BlobRefused(hidden);
  const stored = await d.blobs?.stat(b.key);
  if (!stored || stored.size !== b.size) throw new Error(`the result's blob ${b.key} is not stored with ${b.size} bytes: upload it first`);
  return { key: b.key, size: b.size, sha256: b.sha256 };
};

/** A blob a frame names that the agent may not refer to: the reason, naming the key. */
class BlobRefused extends Error {}

/**
 * Why a frame may not refer to blob `key`, or `undefined` if it may: only
 * a key this environment sees (uploaded through it, or referred to by its
 * log or one it inherits) may be referred to, so knowing a hash is never
 * enough to make another project's bytes readable here.
 */
const unseen = (d: FrameDeps, key: string, what: string): string | undefined => {
  if (d.orch.model.blobRef(key)) return undefined;
  const env = d.orch.model.environment();
  const here = env ? `environment ${env.env} of project ${env.project}` : "this environment";
  return `${what} ${key} is not visible in ${here}: upload it through this environment first (PUT ${env ? `/api/projects/${env.project}/envs/${env.env}` : "…"}/blobs/${key})`;
};

/** Records an asset whose blobs the agent uploaded, once every blob is there with its size (its paths are the decider's to check). */
const persist = async (d: FrameDeps, { agentId, by }: FrameSender, executionId: ExecutionId, m: Extract<AgentMessage, { type: "persist" }>): Promise<ServerMessage> => {
  const fail = (message: string): ServerMessage => ({ type: "error", requestId: m.requestId, message });
  // The frame's shape (entries with a path, a size and a sha256) was checked against its schema on arrival.
  let total = 0;
  for (const e of m.entries) {
    total += e.size;
    const hidden = unseen(d, keyOf(e.sha256), `the blob of ${e.path}`);
    if (hidden) return fail(hidden);
    const stored = await d.blobs?.stat(keyOf(e.sha256));
    if (!stored || stored.size !== e.size) return fail(`the blob of ${e.path} (${keyOf(e.sha256)}) is not stored: upload it first`);
  }
  if (total > d.maxAssetBytes) return fail(`asset of ${total} bytes is over the limit of ${d.maxAssetBytes} (server option --max-asset-bytes)`);
  const r = await d.orch.execute({
    type: "PersistAsset",
    executionId,
    agentId,
    requestId: m.requestId,
    entries: m.entries,
    ...(m.name === undefined ? {} : { name: m.name }),
    ...(m.metadata === undefined ? {} : { metadata: m.metadata }),
  }, { by });
  if (!r.ok) return fail(rejectionMessage(r.rejection));
  const found = d.orch.model.asset(assetIdOf(executionId, m.requestId))!;
  return { type: "persisted", requestId: m.requestId, asset: assetRefOf(found.env, found.doc) };
};

/** Task code called a target: a step in the caller's run, or a new run for a workflow. */
const submit = async (d: FrameDeps, executionId: ExecutionId, m: Extract<AgentMessage, { type: "submit" }>, by: Principal): Promise<ServerMessage> => {
  const { orch } = d;
  const fail = (message: string): ServerMessage => ({ type: "error", requestId: m.requestId, message });
  const caller = orch.model.execution(executionId);
  if (!caller) return fail(`unknown calling execution ${m.executionId}`);
  // The call's position in its execution (agents number them); older agents: the request id.
  const callId = callIdOf(executionId, m.call ?? `r${m.requestId}`);
  const kind = orch.model.manifest(m.target.repository)?.targets.find((t) => t.name === m.target.target)?.kind ?? "task";
  const b = m.argumentsBlob;
  const blobArgs =
    b === undefined
      ? {}
      : { argumentsBlob: { key: b.key, size: b.size, sha256: b.sha256 }, ...(m.argumentCount === undefined ? {} : { argumentCount: m.argumentCount }) };
  if (b !== undefined) {
    if (b.key !== keyOf(b.sha256) || m.arguments.length > 0) return fail(`argumentsBlob.key must be "sha256:" + argumentsBlob.sha256, and arguments empty`);
    const hidden = unseen(d, b.key, "the arguments' blob (argumentsBlob)");
    if (hidden) return fail(hidden);
    const stored = await d.blobs?.stat(b.key);
    if (!stored || stored.size !== b.size) return fail(`the arguments' blob ${b.key} is not stored: upload it first`);
  }
  const keys = stepKeys(orch.model, m.target, m.arguments, m.options, b);
  const r =
    kind === "workflow"
      ? await orch.execute({
          type: "SubmitRun",
          runId: orch.newRunId(),
          target: m.target,
          arguments: m.arguments,
          ...blobArgs,
          ...(m.options ? { options: m.options } : {}),
          keys,
          call: { executionId, callId, runId: caller.runId, stepId: caller.stepId },
        }, { by })
      : await orch.execute({
          type: "ScheduleStep",
          runId: caller.runId,
          call: { executionId, callId },
          target: m.target,
          kind,
          arguments: m.arguments,
          ...blobArgs,
          options: m.options ?? {},
          keys,
        }, { by });
  if (!r.ok) return fail(rejectionMessage(r.rejection));
  const made = orch.model.call(callId);
  if (!made) return fail("the call was not recorded");
  const step = orch.model.step(made.runId, made.stepId);
  const handle: HandleRef = {
    runId: made.runId,
    stepId: made.stepId,
    executionId: step?.executions[step.executions.length - 1] ?? "",
  };
  return { type: "submitted", requestId: m.requestId, handle };
};
