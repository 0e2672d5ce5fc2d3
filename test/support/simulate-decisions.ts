/**
 * The decisions of the simulated orchestrator, agents and task code: each
 * changes the {@link World} and returns the events of one commit (possibly
 * none). Used by `simulate.ts`; not a public API.
 */
import type { AssetId, EnvName, Event } from "../../src/events/index.js";
import { canonical, sha256, taskError } from "./simulate-catalog.js";
import {
  createExec,
  endExec,
  newStep,
  ref,
  resolve,
  retryOrFail,
  schedule,
  succeed,
  type Agent,
  type Exec,
  type Run,
  type World,
} from "./simulate-world.js";

/** An agent (re)connects and registers the manifest of each repository it hosts. */
export const connect = (w: World, agent: Agent): Event[] => {
  agent.connected = true;
  agent.slots = agent.concurrency;
  delete agent.reconnectAt;
  return [
    w.envEvent("AgentConnected", {
      agentId: agent.id,
      tags: agent.tags,
      repositories: agent.repositories,
      concurrency: agent.concurrency,
    }),
    ...agent.repositories.map((repository) =>
      w.envEvent("ManifestRegistered", { repository, agentId: agent.id, targets: w.catalog.manifest(repository) }),
    ),
  ];
};

/** An agent goes away; its executions are lost and will be abandoned. */
export const disconnect = (w: World, agent: Agent): Event[] => {
  agent.connected = false;
  agent.reconnectAt = w.now + w.rng.int(300, 2_500);
  for (const exec of w.live) {
    if (exec.agent === agent && (exec.status === "assigned" || exec.status === "started")) {
      exec.status = "lost";
      exec.due = w.now + w.rng.int(1, 10);
    }
  }
  const reason = w.rng.pick(["missed 3 heartbeats (15 s)", "connection closed by the agent", "agent shutting down (SIGTERM)"]);
  return [w.envEvent("AgentDisconnected", { agentId: agent.id, reason })];
};

/** A new run: RunSubmitted, its root StepScheduled and first ExecutionCreated. */
export const submit = (w: World): Event[] => {
  w.submitted++;
  w.nextSubmitAt = w.now + w.rng.int(0, 150);
  const run: Run = { id: w.newId(), status: "active", steps: [], live: new Set() };
  w.runs.add(run);
  const call = w.catalog.rootCall(w.rng);
  const root = newStep(w, run, call);
  const spawner = w.rng.chance(0.05)
    ? [...w.live].find((e) => e.status === "started" && e.step.def.kind === "task" && e.step.run !== run)
    : undefined;
  if (w.rng.chance(w.cancelChance)) run.cancelAt = w.now + w.rng.int(30, 1_500);
  return [
    w.runEvent("RunSubmitted", run.id, {
      target: { repository: call.def.repository, target: call.def.name },
      arguments: call.args,
      rootStepId: root.id,
      ...(w.rng.chance(0.3) ? { idempotencyKey: `${call.def.name}-${sha256(canonical(call.args)).slice(0, 16)}-${w.submitted}` } : {}),
      ...(spawner ? { parent: { runId: spawner.step.run.id, ...ref(spawner) } } : {}),
    }),
    ...schedule(w, root),
  ];
};

/** The run is cancelled with every execution still live under it. */
export const cancel = (w: World, run: Run): Event[] => {
  const reason = w.rng.pick(["cancelled by alice@acme.dev from the CLI", "superseded by a newer run", "deadline passed"]);
  const out = [w.runEvent("RunCancelled", run.id, { reason })];
  for (const exec of [...run.live]) {
    out.push(w.runEvent("ExecutionCancelled", run.id, { ...ref(exec), reason: "run cancelled" }));
    endExec(w, exec);
  }
  run.status = "cancelled";
  delete run.cancelAt;
  const pending = run.steps.filter((s) => s.status === "pending");
  for (const s of pending) {
    s.status = "cancelled";
    if (s.cacheKey !== undefined && w.inflight.get(s.cacheKey) === s) w.inflight.delete(s.cacheKey);
  }
  // Steps of other runs that waited on this run's steps will not get a result.
  for (const s of pending) for (const waiter of s.waiters.splice(0)) if (waiter.status === "pending") resolve(w, waiter, "failed");
  return out;
};

/** A finished task step of a finished run is executed again by hand. */
export const rerun = (w: World, run: Run): Event[] => {
  delete run.rerunAt;
  const candidates = run.steps.filter(
    (s) => s.def.kind === "task" && s.execs.length > 0 && s.status !== "pending" && s.status !== "cancelled",
  );
  if (candidates.length === 0) return [];
  const step = w.rng.pick(candidates);
  step.rerun = true;
  return [createExec(w, step, "rerun")];
};

/** Connected agents that host the target, have its tags and (for tasks) a free slot. */
export const eligible = (w: World, exec: Exec): Agent[] => {
  const def = exec.step.def;
  const requires = def.options.requires ?? {};
  return w.agents.filter(
    (a) =>
      a.connected &&
      a.repositories.includes(def.repository) &&
      (def.kind === "workflow" || a.slots > 0) &&
      Object.entries(requires).every(([tag, values]) => (a.tags[tag] ?? []).some((v) => values.includes(v))),
  );
};

/** The scheduler hands an execution to an agent. */
export const assign = (w: World, exec: Exec, agent: Agent): Event[] => {
  exec.status = "assigned";
  exec.agent = agent;
  if (exec.step.def.kind === "task") agent.slots--;
  exec.due = w.now + w.rng.int(2, 15);
  return [w.runEvent("ExecutionAssigned", exec.step.run.id, { ...ref(exec), agentId: agent.id })];
};

/** The agent starts the code; a task's outcome and running time are drawn here. */
export const start = (w: World, exec: Exec): Event[] => {
  exec.status = "started";
  const { def } = exec.step;
  if (def.kind === "workflow") {
    exec.step.plan ??= def.plan(w.rng, exec.step.args, w.now);
    exec.due = w.now + w.rng.int(2, 10);
  } else {
    const r = w.rng.float();
    const timeout = def.options.timeoutMs;
    exec.outcome = exec.step.rerun
      ? r < 0.85
        ? "success"
        : "terminal"
      : r < 0.07
        ? "retryable"
        : r < 0.1
          ? "terminal"
          : r < 0.16 && timeout !== undefined
            ? "timeout"
            : "success";
    exec.finishAt = w.now + (exec.outcome === "timeout" ? timeout! : w.rng.int(...def.durationMs));
    if (def.restores !== undefined && (w.assets.has(def.restores) || w.rng.chance(0.3))) exec.todo.push("restore");
    if (def.persists !== undefined && (exec.outcome === "success" || w.rng.chance(0.3))) exec.todo.push("persist");
    exec.due = exec.todo.length > 0 ? w.now + w.rng.int(3, 20) : exec.finishAt;
  }
  return [w.runEvent("ExecutionStarted", exec.step.run.id, ref(exec))];
};

/** A task's next step: restore or persist an asset, or finish. */
export const work = (w: World, exec: Exec): Event[] => {
  const { step } = exec;
  const { def, run } = step;
  if (def.kind !== "task") throw new Error("simulator: work() on a workflow");
  const next = exec.todo.shift();
  if (next !== undefined) exec.due = exec.todo.length > 0 ? w.now + w.rng.int(3, 20) : Math.max(w.now, exec.finishAt);
  if (next === "restore") {
    const known = w.assets.get(def.restores!);
    const fromOtherEnv = !known || w.rng.chance(0.1);
    return [
      w.runEvent("AssetRestored", run.id, {
        assetId: fromOtherEnv ? w.newId<AssetId>() : w.rng.pick(known.slice(-5)),
        ...ref(exec),
        ...(fromOtherEnv ? { fromEnv: "production" as EnvName } : {}),
        ...(w.rng.chance(0.5) ? { to: `inputs/${def.restores}` } : {}),
      }),
    ];
  }
  if (next === "persist") {
    const assetId = w.newId<AssetId>();
    const name = def.persists!;
    w.assets.set(name, [...(w.assets.get(name) ?? []), assetId]);
    const files = name === "model" ? ["model.safetensors", "config.json", "tokenizer.json"] : ["train.parquet", "test.parquet"];
    return [
      w.runEvent("AssetPersisted", run.id, {
        assetId,
        ...ref(exec),
        ...(w.rng.chance(0.8) ? { name } : {}),
        ...(w.rng.chance(0.5) ? { metadata: { createdBy: def.name, rows: w.rng.int(1_000, 1_000_000), at: new Date(w.now) } } : {}),
        entries: files.slice(0, w.rng.int(1, files.length)).map((path) => {
          const h = w.rng.hex(64);
          return { path, size: w.rng.int(200, 50_000_000), sha256: h, blobKey: `sha256:${h}` };
        }),
      }),
    ];
  }
  switch (exec.outcome) {
    case "success": {
      const value = def.result(w.rng, step.args, w.now);
      if (!w.rng.chance(def.blobChance)) return succeed(w, exec, { kind: "inline", value });
      const h = w.rng.hex(64);
      return succeed(w, exec, { kind: "blob", blob: { key: `sha256:${h}`, size: w.rng.int(1_100_000, 400_000_000), sha256: h } });
    }
    case "timeout": {
      const timeoutMs = def.options.timeoutMs!;
      const e = w.runEvent("ExecutionTimedOut", run.id, { ...ref(exec), timeoutMs });
      endExec(w, exec);
      return [e, ...retryOrFail(w, exec, undefined, true)];
    }
    case "retryable":
    case "terminal": {
      const error = taskError(w.rng, exec.outcome === "retryable", def.repository, def.name);
      const e = w.runEvent("ExecutionFailed", run.id, { ...ref(exec), error });
      endExec(w, exec);
      return [e, ...retryOrFail(w, exec, error.type, error.retryable)];
    }
  }
};

/** A workflow whose awaited calls are all resolved: call the next batch, or return. */
export const advance = (w: World, exec: Exec): Event[] => {
  const step = exec.step;
  const { run } = step;
  const plan = step.plan!;
  const failed = step.children.filter((c) => c.status !== "succeeded");
  exec.due = w.now + w.rng.int(2, 10);
  if (failed.length > 0 && (step.batch >= plan.length || w.rng.chance(0.7))) {
    const f = failed[0]!;
    const e = w.runEvent("ExecutionFailed", run.id, {
      ...ref(exec),
      error: {
        type: "StepFailedError",
        message: `step ${f.id} (${f.def.name}) ${f.status === "cancelled" ? "was cancelled" : "failed"}`,
        retryable: false,
      },
    });
    endExec(w, exec);
    return [e, ...retryOrFail(w, exec, "StepFailedError", false)];
  }
  step.caught += failed.length;
  const calls = plan[step.batch];
  if (calls !== undefined) {
    step.batch++;
    step.children = calls.map((c) => newStep(w, run, c));
    return step.children.flatMap((c) => schedule(w, c, exec));
  }
  return succeed(w, exec, {
    kind: "inline",
    value: { calls: plan.reduce((n, b) => n + b.length, 0), caught: step.caught, finishedAt: new Date(w.now) },
  });
};

/** An execution lost with its agent is abandoned and retried elsewhere. */
export const abandon = (w: World, exec: Exec): Event[] => {
  const e = w.runEvent("ExecutionAbandoned", exec.step.run.id, {
    ...ref(exec),
    agentId: exec.agent!.id,
    reason: "agent disconnected",
  });
  endExec(w, exec);
  return [e, createExec(w, exec.step, "retry", w.now + w.rng.int(20, 200))];
};
