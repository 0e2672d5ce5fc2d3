/**
 * A deterministic generator of realistic environment histories, for
 * projection tests and benchmarks.
 *
 * The orchestrator in it is the real one: every commit is what the real
 * `decide` decided for a command, over the real projections folded in
 * memory, and the scheduler's assignments, time-outs and abandonments are
 * the real `nextActions`. Around it, agents, the code they run and users are
 * played against a fake clock and a seeded random source
 * (`simulate-world.ts`, `simulate-actors.ts`): the environment is created,
 * agents connect and register their manifests, runs are submitted and
 * interleaved, workflows fan out into steps and child runs, tasks succeed,
 * fail (and are retried with backoff), hang until they time out, are
 * abandoned when their agent goes away (and resumed: `CallResumed`), or are
 * cancelled with their run; cached and memoised results are reused,
 * identical pending steps are deferred to, assets are persisted and
 * restored, finished steps are sometimes re-run.
 *
 * The same options give byte-identical output. The events keep the
 * orchestrator's invariants (see `test/unit/simulate.unit.spec.ts`).
 *
 * realisticEventSize: the catalogue's arguments, results and errors are
 * sized so that events encode to about 150-400 bytes on average, like the
 * ones measured in STACK.md (227 bytes); `simulationStats` reports it.
 */
import { encodeCommit, packValue } from "../../src/events/codec.js";
import type { Event, EventType } from "../../src/events/index.js";
import { nextActions } from "../../src/orchestrator/core/index.js";
import { act, cancel, commandOf, connect, disconnect, dueOf, rerun, slots, submit } from "./simulate-actors.js";
import { GRACE_MS, World, type SimulateOptions } from "./simulate-world.js";

export type { SimulateOptions } from "./simulate-world.js";

/**
 * Yields the commits of a simulated environment, in log order. Each commit
 * holds the events of one decision, all of one run or all of the
 * environment, as `prepareCommit` requires. Lazy: a benchmark can draw a
 * million events without holding them.
 *
 * @example
 *   for (const events of simulate({ seed: 7, runs: 20 })) await log.append(ref, events);
 * @throws Error if the simulation stalls, or the orchestrator refuses what an actor asks (a bug in the simulator).
 */
export function* simulate(options: SimulateOptions): Generator<Event[], void, undefined> {
  const w = new World(options);
  // Its base as the edge would find it (the simulation has one environment; the base only names where caches fall through to).
  yield w.execute({ type: "CreateEnvironment", project: w.project, env: w.env, base: { env: "production", found: { archived: false, bases: [] } } });
  for (const a of w.agents) yield connect(w, a);

  // Gather what could happen, let the clock reach the earliest, and pick one
  // of the due actions at random, as concurrent actors would.
  for (;;) {
    for (const u of w.users.values()) if (u.ended && u.rerunAt === undefined) w.users.delete(u.runId);
    const all = actions(w);
    if (all.length === 0) {
      if (w.submitted < w.totalRuns || w.active.size > 0) throw new Error(`simulator stalled at ${new Date(w.now).toISOString()}`);
      return;
    }
    const earliest = Math.min(...all.map((a) => a.at));
    if (earliest > w.now) w.now = earliest;
    const events = w.rng.pick(all.filter((a) => a.at <= w.now)).run();
    if (events.length > 0) yield events;
  }
}

interface Due {
  readonly at: number;
  readonly run: () => Event[];
}

const actions = (w: World): Due[] => {
  const out: Due[] = [];
  const inFlight = [...w.users.values()].filter((u) => !u.ended).length;
  if (w.submitted < w.totalRuns && inFlight < w.parallel) out.push({ at: w.nextSubmitAt, run: () => submit(w) });
  for (const u of w.users.values()) {
    if (u.cancelAt !== undefined) out.push({ at: u.cancelAt, run: () => cancel(w, u) });
    if (u.rerunAt !== undefined) out.push({ at: u.rerunAt, run: () => rerun(w, u) });
  }
  for (const [key, cmd] of w.followUps) {
    out.push({
      at: w.now,
      run: () => {
        w.followUps.delete(key);
        const events = w.execute(cmd, true);
        // A sweep goes on, a commit's worth at a time, until nothing is left.
        if (cmd.type === "SweepRun" && events.length > 0) w.followUps.set(key, cmd);
        return events;
      },
    });
  }
  for (const p of w.procs.values()) {
    const at = dueOf(w, p);
    if (at !== undefined) out.push({ at, run: () => act(w, p) });
  }
  const plan = nextActions(w.active.values(), slots(w), w.now, { graceMs: GRACE_MS, lostAt: (id) => w.agents.find((a) => a.id === id)?.lostAt });
  for (const a of plan.actions) out.push({ at: w.now, run: () => w.execute(commandOf(a)) });
  if (plan.wakeAt !== undefined) out.push({ at: plan.wakeAt, run: () => [] });
  // Agents come and go only while there is work, so that the history ends.
  if (out.length > 0 || w.active.size > 0) {
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
