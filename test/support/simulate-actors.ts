/**
 * What the actors outside the orchestrator do, each as the command they send
 * and its commit: agents connect and go away, their code starts, restores
 * and persists assets, calls steps and returns; users submit, cancel and
 * re-run; the scheduler's runner carries out `nextActions`. Used by
 * `simulate.ts`; not a public API.
 */
import type { Event, TargetRef, Value } from "../../src/events/index.js";
import { assetIdOf, type Action, type AgentSlot, type Command } from "../../src/orchestrator/core/index.js";
import { stepKeys } from "../../src/orchestrator/keys.js";
import { canonical, sha256, taskError } from "./simulate-catalog.js";
import { hasOutcome, type Agent, type Proc, type UserRun, type World } from "./simulate-world.js";

const targetOf = (d: { readonly repository: string; readonly name: string }): TargetRef => ({ repository: d.repository, target: d.name });

/** An agent (re)connects and registers the manifest of each repository it hosts. */
export const connect = (w: World, agent: Agent): Event[] =>
  w.execute({
    type: "ConnectAgent",
    agentId: agent.id,
    tags: agent.tags,
    concurrency: agent.concurrency,
    manifests: agent.repositories.map((repository) => ({ repository, targets: w.catalog.manifest(repository) })),
  });

/** An agent goes away; what it ran is lost, and the scheduler will abandon it. */
export const disconnect = (w: World, agent: Agent): Event[] =>
  w.execute({
    type: "DisconnectAgent",
    agentId: agent.id,
    reason: w.rng.pick(["missed 3 heartbeats (15 s)", "connection closed by the agent", "agent shutting down (SIGTERM)"]),
  });

/** A user submits a run of a workflow, as `tributary submit` does (with the keys the server computes). */
export const submit = (w: World): Event[] => {
  w.submitted++;
  w.nextSubmitAt = w.now + w.rng.int(0, 150);
  const call = w.catalog.rootCall(w.rng);
  const runId = w.newId<string>();
  const target = targetOf(call.def);
  const key = w.rng.chance(0.3) ? `${call.def.name}-${sha256(canonical(call.args)).slice(0, 16)}-${w.submitted}` : undefined;
  const user: UserRun = { runId, ended: false };
  if (w.rng.chance(w.cancelChance)) user.cancelAt = w.now + w.rng.int(30, 1_500);
  w.users.set(runId, user);
  return w.execute({
    type: "SubmitRun",
    runId,
    target,
    arguments: call.args,
    keys: stepKeys(w.model, target, call.args, undefined),
    ...(key === undefined ? {} : { idempotencyKey: key }),
  });
};

/** The user cancels a run still in flight. */
export const cancel = (w: World, user: UserRun): Event[] => {
  delete user.cancelAt;
  const reason = w.rng.pick(["cancelled by alice@acme.dev from the CLI", "superseded by a newer run", "deadline passed"]);
  return w.execute({ type: "CancelRun", runId: user.runId, reason });
};

/** The user re-runs a finished task step of a finished run, with the code hosted now. */
export const rerun = (w: World, user: UserRun): Event[] => {
  delete user.rerunAt;
  if (w.model.run(user.runId)?.status === "cancelled") return [];
  const candidates = w.model.stepsOfRun(user.runId).filter((s) => {
    const latest = s.executions[s.executions.length - 1];
    const x = latest === undefined ? undefined : w.model.execution(latest);
    return s.kind === "task" && x !== undefined && hasOutcome(s) && s.status !== "cancelled" && !w.active.has(x.executionId);
  });
  if (candidates.length === 0) return [];
  const step = w.rng.pick(candidates);
  const memoKey = stepKeys(w.model, step.target, step.arguments as readonly Value[], step.options, step.argumentsBlob).memo;
  return w.execute({ type: "RerunStep", runId: user.runId, stepId: step.stepId, memoKey });
};

/** The scheduler's view of the connected agents: each heartbeat reports what it holds. */
export const slots = (w: World): AgentSlot[] =>
  w.agents
    .filter((a) => a.connected)
    .map((a) => {
      const held = [...w.procs.values()].filter((p) => p.agent === a);
      return {
        agentId: a.id,
        targets: a.targets,
        tags: a.tags,
        // Workflows wait on their calls: they run beside the task slots, or nested ones could take them all.
        concurrency: a.concurrency + held.filter((p) => p.def.kind === "workflow").length,
        reported: new Set(held.map((p) => p.executionId)),
        reportedAt: w.now,
      };
    });

/** What the runner asks for one action of `nextActions`. */
export const commandOf = (a: Action): Command => {
  switch (a.type) {
    case "assign":
      return { type: "AssignExecution", executionId: a.executionId, agentId: a.agentId };
    case "timeout":
      return { type: "TimeOutExecution", executionId: a.executionId };
    case "abandon":
      return { type: "AbandonExecution", executionId: a.executionId, agentId: a.agentId, reason: a.reason, cause: a.cause };
  }
};

/** When the code of `p` does something next, if it will (a hanging task does not; a workflow waits for its calls). */
export const dueOf = (w: World, p: Proc): number | undefined => {
  if (p.phase === "assigned") return p.due;
  if (p.def.kind === "task") return p.todo.length === 0 && p.outcome === "hang" ? undefined : p.due;
  if (p.queue.length > 0) return p.due;
  return p.children.every((c) => hasOutcome(w.model.step(c.runId, c.stepId))) ? p.due : undefined;
};

/** The next thing the code of `p` does, and its commit. */
export const act = (w: World, p: Proc): Event[] => {
  const ref = { executionId: p.executionId, agentId: p.agent.id };
  if (p.phase === "assigned") return w.execute({ type: "RecordStarted", ...ref });
  return p.def.kind === "task" ? taskStep(w, p) : workflowStep(w, p);
};

const taskStep = (w: World, p: Proc): Event[] => {
  const def = p.def;
  if (def.kind !== "task") throw new Error("simulator: a workflow as a task");
  const ref = { executionId: p.executionId, agentId: p.agent.id };
  const next = p.todo.shift();
  if (next !== undefined) p.due = p.todo.length > 0 ? w.now + w.rng.int(3, 20) : Math.max(w.now, p.finishAt!);
  if (next === "restore") {
    const assetId = w.rng.pick(w.assets.get(def.restores!)!.slice(-5));
    return w.execute({ type: "RestoreAsset", ...ref, assetId, ...(w.rng.chance(0.5) ? { to: `inputs/${def.restores}` } : {}) });
  }
  if (next === "persist") {
    // The asset's id is the decider's, of the request (a task persists once: request 1).
    const requestId = 1;
    const assetId = assetIdOf(p.executionId, requestId);
    const name = def.persists!;
    const files = name === "model" ? ["model.safetensors", "config.json", "tokenizer.json"] : ["train.parquet", "test.parquet"];
    const events = w.execute({
      type: "PersistAsset",
      ...ref,
      requestId,
      ...(w.rng.chance(0.8) ? { name } : {}),
      ...(w.rng.chance(0.5) ? { metadata: { createdBy: def.name, rows: w.rng.int(1_000, 1_000_000), at: new Date(w.now) } } : {}),
      entries: files.slice(0, w.rng.int(1, files.length)).map((path) => ({ path, size: w.rng.int(200, 50_000_000), sha256: w.rng.hex(64) })),
    });
    w.assets.set(name, [...(w.assets.get(name) ?? []), assetId]);
    return events;
  }
  const step = w.model.step(p.runId, p.stepId)!;
  if (p.outcome === "retryable" || p.outcome === "terminal") {
    const error = taskError(w.rng, p.outcome === "retryable", def.repository, def.name);
    return w.execute({ type: "RecordResult", ...ref, outcome: { ok: false, error } });
  }
  if (!w.rng.chance(def.blobChance)) {
    const value = def.result(w.rng, step.arguments as readonly Value[], w.now);
    return w.execute({ type: "RecordResult", ...ref, outcome: { ok: true, value } });
  }
  const h = w.rng.hex(64);
  const blob = { key: `sha256:${h}`, size: w.rng.int(1_100_000, 400_000_000), sha256: h };
  return w.execute({ type: "RecordResult", ...ref, outcome: { ok: true, blob } });
};

/** A workflow makes the next call of its batch, or, its calls all resolved, moves on to the next batch, fails or returns. */
const workflowStep = (w: World, p: Proc): Event[] => {
  const ref = { executionId: p.executionId, agentId: p.agent.id };
  const call = p.queue.shift();
  if (call !== undefined) {
    p.due = w.now + w.rng.int(1, 5);
    const callId = `${p.executionId}/${++p.calls}`;
    const target = targetOf(call.def);
    const keys = stepKeys(w.model, target, call.args, undefined);
    // As the server does: a workflow called from code is a run of its own, linked to its caller.
    const events = w.execute(
      call.def.kind === "workflow"
        ? { type: "SubmitRun", runId: w.newId(), target, arguments: call.args, keys, call: { executionId: p.executionId, callId, runId: p.runId, stepId: p.stepId } }
        : { type: "ScheduleStep", runId: p.runId, call: { executionId: p.executionId, callId }, target, kind: "task", arguments: call.args, options: {}, keys },
    );
    const made = w.model.call(callId);
    if (!made) throw new Error(`simulator: call ${callId} was not recorded`);
    p.children.push({ runId: made.runId, stepId: made.stepId });
    return events;
  }
  const plan = w.plans.get(`${p.runId}/${p.stepId}`)!;
  const failed = p.children.filter((c) => {
    const s = w.model.step(c.runId, c.stepId);
    return s?.status !== "succeeded" && s?.status !== "reused";
  });
  p.due = w.now + w.rng.int(2, 10);
  if (failed.length > 0 && (p.batch >= plan.length || w.rng.chance(0.7))) {
    const f = w.model.step(failed[0]!.runId, failed[0]!.stepId)!;
    const error = {
      type: "StepFailedError",
      message: `step ${f.stepId} (${f.target.target}) ${f.status === "cancelled" ? "was cancelled" : "failed"}`,
      retryable: false,
    };
    return w.execute({ type: "RecordResult", ...ref, outcome: { ok: false, error } });
  }
  p.caught += failed.length;
  const batch = plan[p.batch];
  if (batch !== undefined) {
    p.batch++;
    p.children = [];
    p.queue = [...batch];
    return [];
  }
  const value = { calls: plan.reduce((n, b) => n + b.length, 0), caught: p.caught, finishedAt: new Date(w.now) };
  return w.execute({ type: "RecordResult", ...ref, outcome: { ok: true, value } });
};
