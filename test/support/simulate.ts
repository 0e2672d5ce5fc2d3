/**
 * A deterministic generator of realistic environment histories, for
 * projection tests and benchmarks.
 *
 * It plays a small orchestrator, agents and task code against a fake clock
 * and a seeded random source, and yields the commits (arrays of events) the
 * real orchestrator would append, in log order: the environment is created,
 * agents connect and register their manifests, runs are submitted and
 * interleaved, workflows fan out into child steps and nested workflows,
 * tasks succeed, fail (and are retried with backoff), time out, are
 * abandoned when their agent goes away, or are cancelled with their run;
 * cached results are reused, identical pending steps are deferred to,
 * assets are persisted and restored, finished steps are sometimes re-run.
 *
 * The same options give byte-identical output. The events keep the
 * orchestrator's invariants (see `test/unit/simulate.unit.spec.ts`).
 *
 * realisticEventSize: the catalogue's arguments, results and errors are
 * sized so that events encode to about 150-400 bytes on average, like the
 * ones measured in STACK.md (227 bytes); `simulationStats` reports it.
 */
import { encodeCommit, packValue } from "../../src/events/codec.js";
import type { EnvName, Event, EventType } from "../../src/events/index.js";
import {
  abandon,
  advance,
  assign,
  cancel,
  connect,
  disconnect,
  eligible,
  rerun,
  start,
  submit,
  work,
} from "./simulate-decisions.js";
import { World, type SimulateOptions } from "./simulate-world.js";

export type { SimulateOptions } from "./simulate-world.js";

/**
 * Yields the commits of a simulated environment, in log order. Each commit
 * holds the events of one decision, all of one run or all of the
 * environment, as `prepareCommit` requires. Lazy: a benchmark can draw a
 * million events without holding them.
 *
 * @example
 *   for (const events of simulate({ seed: 7, runs: 20 })) await log.append(ref, events);
 * @throws Error if the simulation stalls (a bug in the simulator).
 */
export function* simulate(options: SimulateOptions): Generator<Event[], void, undefined> {
  const w = new World(options);
  const emit = (events: Event[]) => {
    w.seq++;
    w.now += w.rng.int(1, 5);
    return events;
  };

  yield emit([w.envEvent("EnvironmentCreated", { project: w.project, env: w.env, base: "production" as EnvName })]);
  for (const a of w.agents) yield emit(connect(w, a));

  // Gather what could happen, let the clock reach the earliest, and pick one
  // of the due actions at random, as concurrent actors would.
  for (;;) {
    for (const r of w.runs) if (r.status !== "active" && r.live.size === 0 && r.rerunAt === undefined) w.runs.delete(r);
    const all = actions(w);
    if (all.length === 0) {
      if (w.submitted < w.totalRuns || w.live.size > 0) throw new Error(`simulator stalled at ${new Date(w.now).toISOString()}`);
      return;
    }
    const earliest = Math.min(...all.map((a) => a.at));
    if (earliest > w.now) w.now = earliest;
    const events = w.rng.pick(all.filter((a) => a.at <= w.now)).run();
    if (events.length > 0) yield emit(events);
  }
}

interface Action {
  readonly at: number;
  readonly run: () => Event[];
}

const actions = (w: World): Action[] => {
  const out: Action[] = [];
  const active = [...w.runs].filter((r) => r.status === "active").length;
  if (w.submitted < w.totalRuns && active < w.parallel) out.push({ at: w.nextSubmitAt, run: () => submit(w) });
  for (const r of w.runs) {
    if (r.cancelAt !== undefined) out.push({ at: r.cancelAt, run: () => cancel(w, r) });
    if (r.rerunAt !== undefined && r.live.size === 0) out.push({ at: r.rerunAt, run: () => rerun(w, r) });
  }
  for (const exec of w.live) {
    switch (exec.status) {
      case "created": {
        const candidates = eligible(w, exec);
        if (candidates.length > 0) out.push({ at: exec.due, run: () => assign(w, exec, w.rng.pick(candidates)) });
        break;
      }
      case "assigned":
        out.push({ at: exec.due, run: () => start(w, exec) });
        break;
      case "started":
        if (exec.step.def.kind === "task") out.push({ at: exec.due, run: () => work(w, exec) });
        else if (exec.step.children.every((c) => c.status !== "pending")) out.push({ at: exec.due, run: () => advance(w, exec) });
        break;
      case "lost":
        out.push({ at: exec.due, run: () => abandon(w, exec) });
        break;
      case "done":
        break;
    }
  }
  // Agents come and go only while there is work, so that the history ends.
  if (out.length > 0 || w.live.size > 0) {
    for (const a of w.agents) if (a.reconnectAt !== undefined) out.push({ at: a.reconnectAt, run: () => connect(w, a) });
  }
  const up = w.agents.filter((a) => a.connected);
  if (out.length > 0 && w.disconnectEvery > 0 && up.length > 1) {
    out.push({
      at: w.nextDisconnectAt,
      run: () => {
        w.nextDisconnectAt = w.now + w.disconnectDelay();
        return disconnect(w, w.rng.pick(up));
      },
    });
  }
  return out;
};

/** Total number of events {@link simulate} yields for `options`. */
export const countEvents = (options: SimulateOptions): number => {
  let n = 0;
  for (const c of simulate(options)) n += c.length;
  return n;
};

/** Sizes of a simulated history, for benchmarks and the realism check. */
export interface SimulationStats {
  readonly commits: number;
  readonly events: number;
  /** Sum of the framed commits' sizes. */
  readonly commitBytes: number;
  /** Mean size of one event packed on its own (no frame), bytes. */
  readonly meanEventBytes: number;
  readonly eventsPerCommit: number;
  readonly byType: Readonly<Partial<Record<EventType, number>>>;
}

/** Runs {@link simulate} and measures what it produced. */
export const simulationStats = (options: SimulateOptions): SimulationStats => {
  let commits = 0;
  let events = 0;
  let commitBytes = 0;
  let eventBytes = 0;
  const byType: Partial<Record<EventType, number>> = {};
  for (const c of simulate(options)) {
    commits++;
    events += c.length;
    commitBytes += encodeCommit(c).length;
    for (const e of c) {
      eventBytes += packValue(e).length;
      byType[e.type] = (byType[e.type] ?? 0) + 1;
    }
  }
  return { commits, events, commitBytes, meanEventBytes: eventBytes / events, eventsPerCommit: events / commits, byType };
};
