/**
 * `nextActions` as tables of cases: (active executions, agents, liveness,
 * now, resolved steps) → (actions, wake time). Each row is named as the
 * rule it holds. An action is written compactly but with every field:
 *   `assign R/x1 → a`, `timeout R/x1`, `abandon R/x1 of a: <reason> [<cause>]`.
 *
 * Then `satisfies` and `handlesIn` as tables, and the `wait` option end to
 * end through the pure pieces: `decide` → `trackActive` → `nextActions`.
 * (Every case of the former next-actions.unit.spec.ts is a row here.)
 */
import { describe, expect, it } from "vitest";
import { IdGenerator, type Commit, type EventId } from "../../src/events/index.js";
import { HANDLE_TAG } from "../../src/protocol/constants.js";
import { MemoryStore, PROJECTIONS } from "../../src/projections/index.js";
import type { Command } from "../../src/orchestrator/core/commands.js";
import type { Loose, SpecCommand, SpecModel } from "../support/decider-spec.js";
import { decide, executionIdOf } from "../../src/orchestrator/core/decide.js";
import { modelOf } from "../../src/orchestrator/core/model.js";
import {
  handlesIn,
  nextActions,
  satisfies,
  trackActive,
  type Action,
  type ActiveExecution,
  type AgentSlot,
  type Liveness,
} from "../../src/orchestrator/core/next-actions.js";

const NOW = 100_000;
const GRACE = 1000;
const target = { repository: "shop", target: "charge" };

/** Ids in the tables are plain strings. */
type Extra = Partial<Loose<ActiveExecution>>;
type SlotExtra = Partial<Omit<AgentSlot, "agentId">>;
const queued = (id: string, extra: Extra = {}): ActiveExecution =>
  ({
    executionId: id,
    runId: "R",
    stepId: id,
    status: "queued",
    target,
    ...extra,
  }) as ActiveExecution;
const assigned = (id: string, agentId: string, at: number, extra: Extra = {}): ActiveExecution =>
  queued(id, { status: "assigned", agentId, assignedAt: at, ...extra });
const running = (id: string, agentId: string, at: number, extra: Extra = {}): ActiveExecution =>
  queued(id, { status: "running", agentId, assignedAt: at, startedAt: at, ...extra });
const agent = (id: string, extra: SlotExtra = {}): AgentSlot => ({
  agentId: id as AgentSlot["agentId"],
  targets: new Set(["shop:charge"]),
  tags: {},
  concurrency: 2,
  reported: new Set(),
  reportedAt: NOW,
  ...extra,
});
/** An agent that reports running `ids` (as of now). */
const reporting = (id: string, ids: string[], extra: SlotExtra = {}) => agent(id, { reported: new Set(ids), ...extra });

const show = (a: Action): string =>
  a.type === "assign"
    ? `assign ${a.runId}/${a.executionId} → ${a.agentId}`
    : a.type === "timeout"
      ? `timeout ${a.runId}/${a.executionId}`
      : `abandon ${a.runId}/${a.executionId} of ${a.agentId}: ${a.reason} [${a.cause}]`;

interface Row {
  readonly active: readonly ActiveExecution[];
  readonly agents: readonly AgentSlot[];
  readonly now?: number;
  readonly liveness?: number | Liveness;
  /** Steps (`runId/stepId`) that have an outcome; absent: the default (every step resolved). */
  readonly resolved?: readonly string[];
  readonly actions: readonly string[];
  readonly wakeAt?: number;
}

/** Rows as `[name, row]`, so that the name is the test's title, whole and unquoted. */
const rows = (table: Record<string, Row>): [string, Row][] => Object.entries(table);

const check = (row: Row) => {
  const resolved = row.resolved;
  const plan = nextActions(
    row.active,
    row.agents,
    row.now ?? NOW,
    row.liveness ?? GRACE,
    ...(resolved === undefined ? [] : [(s: string) => resolved.includes(s)]),
  );
  expect(plan.actions.map(show)).toEqual(row.actions);
  expect(plan.wakeAt).toBe(row.wakeAt);
  // Nothing else in the plan.
  expect(Object.keys(plan).sort()).toEqual(row.wakeAt === undefined ? ["actions"] : ["actions", "wakeAt"]);
};

describe("nextActions: assignment and capacity", () => {
  it.each(
    rows({
      "with no agent, queued executions stay queued and there is nothing to wake for": {
        active: [queued("x1"), queued("x2")],
        agents: [],
        actions: [],
      },
      "an agent takes queued executions up to its concurrency, the first queued first": {
        active: [queued("x1"), queued("x2"), queued("x3")],
        agents: [agent("a", { concurrency: 2 })],
        actions: ["assign R/x1 → a", "assign R/x2 → a"],
      },
      "concurrency 1 takes one execution at a time": {
        active: [queued("x1"), queued("x2")],
        agents: [agent("a", { concurrency: 1 })],
        actions: ["assign R/x1 → a"],
      },
      "the agent with the most free slots is chosen, the one listed first on a tie": {
        active: [queued("x1"), queued("x2"), queued("x3")],
        agents: [agent("a", { concurrency: 2 }), agent("b", { concurrency: 2 })],
        actions: ["assign R/x1 → a", "assign R/x2 → b", "assign R/x3 → a"],
      },
      "the least loaded first: the roomier agent takes work until the others have as much room": {
        active: [queued("x1"), queued("x2"), queued("x3")],
        agents: [agent("a", { concurrency: 1 }), agent("b", { concurrency: 3 })],
        actions: ["assign R/x1 → b", "assign R/x2 → b", "assign R/x3 → a"],
      },
      "assigned and running executions hold their agent's slots": {
        active: [assigned("y", "a", NOW), running("z", "a", NOW), queued("x1")],
        agents: [reporting("a", ["y", "z"], { concurrency: 2 })],
        actions: [],
      },
      "slots held on one agent leave the other's free": {
        active: [running("y", "a", NOW), queued("x1")],
        agents: [reporting("a", ["y"], { concurrency: 1 }), agent("b", { concurrency: 1 })],
        actions: ["assign R/x1 → b"],
      },
      "an execution timed out in this very pass still holds its slot until the time-out is recorded": {
        active: [running("late", "a", NOW - 500, { timeoutMs: 100 }), queued("x1")],
        agents: [reporting("a", ["late"], { concurrency: 1 })],
        actions: ["timeout R/late"],
      },
      "an execution abandoned in this very pass still holds its slot until the abandonment is recorded": {
        active: [assigned("lost", "a", NOW - 5000), queued("x1")],
        agents: [agent("a", { concurrency: 1 })],
        actions: ["abandon R/lost of a: not running on its agent [not-running]"],
      },
      "an agent that does not host the target is passed over for one that does": {
        active: [queued("x1")],
        agents: [agent("a", { targets: new Set(["shop:refund"]) }), agent("b", { concurrency: 1 })],
        actions: ["assign R/x1 → b"],
      },
      "a target is matched on repository and name together": {
        active: [queued("x1")],
        agents: [agent("a", { targets: new Set(["shop:refund", "bank:charge"]) })],
        actions: [],
      },
      "executions of several targets each go to an agent hosting theirs": {
        active: [queued("x1"), queued("x2", { target: { repository: "shop", target: "refund" } })],
        agents: [agent("a", { targets: new Set(["shop:refund"]) }), agent("b")],
        actions: ["assign R/x1 → b", "assign R/x2 → a"],
      },
      "a draining agent (stopping) is given nothing new; another that hosts the target is": {
        active: [queued("x1"), queued("x2")],
        agents: [agent("a", { draining: true }), agent("b", { concurrency: 1 })],
        actions: ["assign R/x1 → b"],
      },
      "a draining agent keeps what it runs: its executions are neither reassigned nor abandoned": {
        active: [running("y", "a", NOW), queued("x1")],
        agents: [reporting("a", ["y"], { draining: true })],
        actions: [],
      },
      "executions of several runs share the agents' room": {
        active: [queued("x1", { runId: "R1" }), queued("x2", { runId: "R2" })],
        agents: [agent("a", { concurrency: 1 })],
        actions: ["assign R1/x1 → a"],
      },
    }),
  )("%s", (_name, row) => check(row));
});

describe("nextActions: tags (requires)", () => {
  it.each(
    rows({
      "a requirement is met by an agent with one of its values": {
        active: [queued("x1", { requires: { gpu: ["a100", "h100"] } })],
        agents: [agent("a", { tags: { gpu: ["h100"] } })],
        actions: ["assign R/x1 → a"],
      },
      "an agent without the tag does not get the execution": {
        active: [queued("x1", { requires: { gpu: ["a100"] } })],
        agents: [agent("a")],
        actions: [],
      },
      "an agent with the tag but another value does not get it": {
        active: [queued("x1", { requires: { gpu: ["a100"] } })],
        agents: [agent("a", { tags: { gpu: ["t4"] } })],
        actions: [],
      },
      "every required key must be met": {
        active: [queued("x1", { requires: { gpu: ["a100"], region: ["eu"] } })],
        agents: [agent("a", { tags: { gpu: ["a100"] } }), agent("b", { tags: { gpu: ["a100"], region: ["eu", "us"] } })],
        actions: ["assign R/x1 → b"],
      },
      "the agent that meets the requirement is chosen even with less room than one that does not": {
        active: [queued("x1", { requires: { gpu: ["a100"] } })],
        agents: [agent("big", { concurrency: 16 }), agent("gpu", { concurrency: 1, tags: { gpu: ["a100"] } })],
        actions: ["assign R/x1 → gpu"],
      },
      "an execution without requirements goes to a tagged agent too": {
        active: [queued("x1")],
        agents: [agent("a", { tags: { gpu: ["a100"] } })],
        actions: ["assign R/x1 → a"],
      },
      "an empty requirement is met by any agent": {
        active: [queued("x1", { requires: {} })],
        agents: [agent("a")],
        actions: ["assign R/x1 → a"],
      },
      "a required key with no values is met by no agent": {
        active: [queued("x1", { requires: { gpu: [] } })],
        agents: [agent("a", { tags: { gpu: ["a100"] } })],
        actions: [],
      },
      "an execution that no agent can take does not keep the ones behind it waiting": {
        active: [queued("x1", { requires: { gpu: ["a100"] } }), queued("x2")],
        agents: [agent("a", { concurrency: 1 })],
        actions: ["assign R/x2 → a"],
      },
    }),
  )("%s", (_name, row) => check(row));

  it.each([
    ["no requirement", true, {}, undefined],
    ["one key, the agent has the value", true, { gpu: ["a100"] }, { gpu: ["a100"] }],
    ["one key, the agent has one of the values", true, { gpu: ["a100"], region: ["eu"] }, { gpu: ["a100", "h100"] }],
    ["one key, the agent has another value", false, { gpu: ["t4"] }, { gpu: ["a100"] }],
    ["two keys, the agent has one", false, { region: ["eu"] }, { region: ["eu"], gpu: ["a100"] }],
    ["the agent has several values of a key, one required", true, { region: ["us", "eu"] }, { region: ["eu"] }],
    ["a required key with no values", false, { gpu: ["a100"] }, { gpu: [] }],
    ["tag values are compared exactly (case matters)", false, { gpu: ["A100"] }, { gpu: ["a100"] }],
  ] as [string, boolean, Record<string, string[]>, Record<string, string[]> | undefined][])("satisfies: %s → %s", (_name, ok, tags, requires) => {
    expect(satisfies(tags, requires)).toBe(ok);
  });
});

describe("nextActions: delays (notBefore)", () => {
  it.each(
    rows({
      "an execution not due yet stays queued and the plan wakes when it is due": {
        active: [queued("x1", { notBefore: NOW + 250 })],
        agents: [agent("a")],
        actions: [],
        wakeAt: NOW + 250,
      },
      "an execution due exactly now is assigned": {
        active: [queued("x1", { notBefore: NOW })],
        agents: [agent("a")],
        actions: ["assign R/x1 → a"],
      },
      "an execution overdue is assigned": {
        active: [queued("x1", { notBefore: NOW - 1 })],
        agents: [agent("a")],
        actions: ["assign R/x1 → a"],
      },
      "of several delays the plan wakes at the earliest": {
        active: [queued("x1", { notBefore: NOW + 900 }), queued("x2", { notBefore: NOW + 300 }), queued("x3", { notBefore: NOW + 600 })],
        agents: [agent("a")],
        actions: [],
        wakeAt: NOW + 300,
      },
      "a delay is waited for even with no agent to run it": {
        active: [queued("x1", { notBefore: NOW + 50 })],
        agents: [],
        actions: [],
        wakeAt: NOW + 50,
      },
      "an execution not due yet does not take a slot from one that is": {
        active: [queued("x1", { notBefore: NOW + 50 }), queued("x2")],
        agents: [agent("a", { concurrency: 1 })],
        actions: ["assign R/x2 → a"],
        wakeAt: NOW + 50,
      },
    }),
  )("%s", (_name, row) => check(row));
});

describe("nextActions: time-outs", () => {
  it.each(
    rows({
      "a running execution past its deadline is timed out": {
        active: [running("x1", "a", NOW - 150, { timeoutMs: 100 })],
        agents: [reporting("a", ["x1"])],
        actions: ["timeout R/x1"],
      },
      "a running execution at its deadline exactly is timed out": {
        active: [running("x1", "a", NOW - 100, { timeoutMs: 100 })],
        agents: [reporting("a", ["x1"])],
        actions: ["timeout R/x1"],
      },
      "a running execution 1 ms before its deadline is not, and the plan wakes at the deadline": {
        active: [running("x1", "a", NOW - 99, { timeoutMs: 100 })],
        agents: [reporting("a", ["x1"])],
        actions: [],
        wakeAt: NOW + 1,
      },
      "the deadline counts from the start, not from the assignment": {
        active: [queued("x1", { status: "running", agentId: "a", assignedAt: NOW - 10_000, startedAt: NOW - 50, timeoutMs: 100 })],
        agents: [reporting("a", ["x1"])],
        actions: [],
        wakeAt: NOW + 50,
      },
      "an assigned execution not yet started has its deadline from the assignment": {
        active: [assigned("x1", "a", NOW - 200, { timeoutMs: 100 })],
        agents: [reporting("a", ["x1"])],
        actions: ["timeout R/x1"],
      },
      "a time-out of 0 means none": {
        active: [running("x1", "a", NOW - 1_000_000, { timeoutMs: 0 })],
        agents: [reporting("a", ["x1"])],
        actions: [],
      },
      "a queued execution does not time out, however long it waits": {
        active: [queued("x1", { timeoutMs: 100, notBefore: 0 })],
        agents: [],
        actions: [],
      },
      "the plan wakes at the earliest of the deadlines and the delays": {
        active: [running("x1", "a", NOW - 50, { timeoutMs: 100 }), running("x2", "a", NOW - 50, { timeoutMs: 300 }), queued("x3", { notBefore: NOW + 20 })],
        agents: [reporting("a", ["x1", "x2"])],
        actions: [],
        wakeAt: NOW + 20,
      },
      "an execution past its deadline whose agent is away is timed out, not abandoned": {
        active: [running("x1", "gone", NOW - 5000, { timeoutMs: 100 })],
        agents: [],
        actions: ["timeout R/x1"],
      },
      "an execution past its deadline that its agent no longer reports is timed out, not abandoned": {
        active: [running("x1", "a", NOW - 5000, { timeoutMs: 100 })],
        agents: [agent("a")],
        actions: ["timeout R/x1"],
      },
    }),
  )("%s", (_name, row) => check(row));
});

describe("nextActions: executions lost with their agent (grace 1000 ms)", () => {
  it.each(
    rows({
      "an agent that reports the execution keeps it": {
        active: [running("x1", "a", NOW - 60_000)],
        agents: [reporting("a", ["x1"])],
        actions: [],
      },
      "an agent that reports, more than the grace after the assignment, that it does not run it has lost it": {
        active: [assigned("x1", "a", NOW - GRACE - 1)],
        agents: [agent("a", { reportedAt: NOW })],
        actions: ["abandon R/x1 of a: not running on its agent [not-running]"],
      },
      "a report exactly the grace after the assignment is not yet a loss (and the next heartbeat, not a timer, looks again)": {
        active: [assigned("x1", "a", NOW - GRACE)],
        agents: [agent("a", { reportedAt: NOW })],
        actions: [],
      },
      "a report older than the assignment says nothing of it": {
        active: [assigned("x1", "a", NOW - 10)],
        agents: [agent("a", { reportedAt: NOW - 5000 })],
        actions: [],
      },
      "what counts is when the agent reported, not the time now": {
        active: [assigned("x1", "a", NOW - 60_000)],
        agents: [agent("a", { reportedAt: NOW - 60_000 + GRACE })],
        now: NOW + 60_000,
        actions: [],
      },
      "an agent that is away past the grace loses its executions": {
        active: [assigned("x1", "away", NOW - GRACE - 1), running("x2", "away", NOW - 5000)],
        agents: [],
        actions: ["abandon R/x1 of away: its agent is not connected [agent-lost]", "abandon R/x2 of away: its agent is not connected [agent-lost]"],
      },
      "an agent away for the grace exactly keeps them, and the plan wakes 1 ms after the grace": {
        active: [assigned("x1", "away", NOW - GRACE)],
        agents: [],
        actions: [],
        wakeAt: NOW + 1,
      },
      "within the grace the plan wakes when the grace ends, the earliest of several": {
        active: [assigned("x1", "away", NOW - 10), assigned("x2", "away", NOW - 500)],
        agents: [],
        actions: [],
        wakeAt: NOW - 500 + GRACE + 1,
      },
      "only the executions of the agent that is away are lost": {
        active: [running("x1", "away", NOW - 5000), running("x2", "a", NOW - 5000)],
        agents: [reporting("a", ["x2"])],
        actions: ["abandon R/x1 of away: its agent is not connected [agent-lost]"],
      },
      "without an assignment time the grace starts now": {
        active: [queued("x1", { status: "assigned", agentId: "away" })],
        agents: [],
        actions: [],
        wakeAt: NOW + GRACE + 1,
      },
    }),
  )("%s", (_name, row) => check(row));
});

describe("nextActions: after a restart of the server (grace 1000 ms, restart grace 3000 ms)", () => {
  const STARTED = NOW - 500;
  const liveness = (lost: Record<string, number> = {}, extra: Partial<Liveness> = {}): Liveness => ({
    graceMs: GRACE,
    startedAt: STARTED,
    restartGraceMs: 3000,
    lostAt: (a) => lost[a],
    ...extra,
  });
  it.each(
    rows({
      "an agent not back yet has the restart grace from the start: the plan wakes when it ends": {
        active: [assigned("old", "away", STARTED - 60_000)],
        agents: [],
        liveness: liveness(),
        actions: [],
        wakeAt: STARTED + 3001,
      },
      "an agent not back when the restart grace ends loses what an earlier process assigned it": {
        active: [assigned("old", "away", STARTED - 60_000)],
        agents: [],
        now: STARTED + 3001,
        liveness: liveness(),
        actions: ["abandon R/old of away: its agent is not connected [agent-lost]"],
      },
      "the restart grace, when not given, is the usual grace": {
        active: [assigned("old", "away", STARTED - 60_000)],
        agents: [],
        now: STARTED + GRACE + 1,
        liveness: { graceMs: GRACE, startedAt: STARTED },
        actions: ["abandon R/old of away: its agent is not connected [agent-lost]"],
      },
      "an agent back keeps what it reports running": {
        active: [running("kept", "a", STARTED - 60_000)],
        agents: [reporting("a", ["kept"])],
        liveness: liveness(),
        actions: [],
      },
      "what an agent back does not run was lost with the restart (cause server-restart)": {
        active: [assigned("lost", "a", STARTED - 60_000)],
        agents: [agent("a", { reportedAt: NOW })],
        liveness: liveness(),
        actions: ["abandon R/lost of a: not running on its agent [server-restart]"],
      },
      "what this process assigned and its agent does not run is not the restart's doing (cause not-running)": {
        active: [assigned("x", "a", STARTED + 10)],
        agents: [agent("a", { reportedAt: STARTED + 2000 })],
        liveness: liveness(),
        actions: ["abandon R/x of a: not running on its agent [not-running]"],
      },
      "an agent that left after the start has the usual grace from when it left": {
        active: [assigned("x", "gone", NOW - 60_000)],
        agents: [],
        liveness: liveness({ gone: NOW - 200 }),
        actions: [],
        wakeAt: NOW - 200 + GRACE + 1,
      },
      "an agent that left after the start loses its executions once that grace has passed": {
        active: [assigned("x", "gone", NOW - 60_000)],
        agents: [],
        now: NOW + 900,
        liveness: liveness({ gone: NOW - 200 }),
        actions: ["abandon R/x of gone: its agent is not connected [agent-lost]"],
      },
      "the grace runs from the later of the assignment and the departure": {
        active: [assigned("x", "gone", NOW - 100)],
        agents: [],
        liveness: liveness({ gone: NOW - 5000 }),
        actions: [],
        wakeAt: NOW - 100 + GRACE + 1,
      },
      "what this process assigned to an agent away now has the usual grace from the assignment": {
        active: [assigned("x", "away", STARTED + 100)],
        agents: [],
        now: STARTED + 100 + GRACE + 1,
        liveness: liveness(),
        actions: ["abandon R/x of away: its agent is not connected [agent-lost]"],
      },
    }),
  )("%s", (_name, row) => check(row));
});

describe("nextActions: wait (held until the handles among the arguments resolve)", () => {
  it.each(
    rows({
      "an execution waiting for a step without an outcome stays queued, with no wake time (a commit wakes the scheduler)": {
        active: [queued("x2", { waitFor: ["R/1"] })],
        agents: [agent("a")],
        resolved: [],
        actions: [],
      },
      "an execution whose every awaited step has an outcome is assigned": {
        active: [queued("x2", { waitFor: ["R/1", "Other/3"] })],
        agents: [agent("a")],
        resolved: ["R/1", "Other/3"],
        actions: ["assign R/x2 → a"],
      },
      "one awaited step without an outcome is enough to hold it": {
        active: [queued("x2", { waitFor: ["R/1", "R/3"] })],
        agents: [agent("a")],
        resolved: ["R/1"],
        actions: [],
      },
      "an execution waiting for nothing is assigned": {
        active: [queued("x2", { waitFor: [] })],
        agents: [agent("a")],
        resolved: [],
        actions: ["assign R/x2 → a"],
      },
      "without a resolver every step counts as resolved": {
        active: [queued("x2", { waitFor: ["R/1"] })],
        agents: [agent("a")],
        actions: ["assign R/x2 → a"],
      },
      "a held execution does not take a slot from one that is not held": {
        active: [queued("x2", { waitFor: ["R/1"] }), queued("x3")],
        agents: [agent("a", { concurrency: 1 })],
        resolved: [],
        actions: ["assign R/x3 → a"],
      },
      "a delay is looked at before the handles: a held execution not due yet still sets the wake time": {
        active: [queued("x2", { waitFor: ["R/1"], notBefore: NOW + 70 })],
        agents: [agent("a")],
        resolved: [],
        actions: [],
        wakeAt: NOW + 70,
      },
      "an execution resolved but with no agent that can run it stays queued": {
        active: [queued("x2", { waitFor: ["R/1"], requires: { gpu: ["a100"] } })],
        agents: [agent("a")],
        resolved: ["R/1"],
        actions: [],
      },
    }),
  )("%s", (_name, row) => check(row));
});

describe("handlesIn: the steps an argument list refers to", () => {
  const h = (runId: string, stepId: string) => ({ [HANDLE_TAG]: { runId, stepId, executionId: `${runId}-${stepId}-1` } });
  it.each([
    ["plain values have none", [1, "two", null, true, { a: [3] }], []],
    ["a handle argument", [h("R", "1")], ["R/1"]],
    ["handles at any depth, in order, duplicates kept", [{ a: [h("R", "2"), { b: h("S", "1") }] }, h("R", "2")], ["R/2", "S/1", "R/2"]],
    ["a handle itself (not in a list)", h("R", "7"), ["R/7"]],
    ["an object with the tag and another key is not a handle, nor is what it holds", [{ [HANDLE_TAG]: { runId: "R", stepId: "1" }, extra: 1 }], []],
    ["dates and bytes are not looked into", [new Date(0), new Uint8Array([1, 2])], []],
    ["nothing", [], []],
  ] as [string, unknown, string[]][])("%s", (_name, value, steps) => {
    expect(handlesIn(value)).toEqual(steps);
  });
});

describe("the wait option through the pure pieces: decide → trackActive → nextActions", () => {
  const T0 = 1_700_000_000_000;
  const manifests = [
    {
      repository: "shop",
      targets: [
        { name: "checkout", kind: "workflow" as const, parameters: [], options: {} },
        { name: "charge", kind: "task" as const, parameters: [], options: {} },
        { name: "email", kind: "task" as const, parameters: [], options: {} },
      ],
    },
  ];
  const slot = agent("a1", { targets: new Set(["shop:checkout", "shop:charge", "shop:email"]), concurrency: 8, reportedAt: T0 });

  /** Decides and folds commands as the runtime does, tracking the executions in flight. */
  const world = () => {
    const store = new MemoryStore(PROJECTIONS);
    const ids = new IdGenerator(() => T0, (b) => b.fill(7));
    const active = new Map<string, ActiveExecution>();
    let seq = 0;
    const model = () => modelOf(store) as SpecModel;
    const run = (cmd: SpecCommand) => {
      const d = decide(cmd as Command, model(), { now: T0, id: () => ids.next() as EventId });
      if (d._tag === "Left") throw new Error(`${cmd.type} was rejected: ${JSON.stringify(d.left)}`);
      if (d.right.length === 0) return;
      store.apply([{ seq: ++seq, id: d.right[0]!.id, subject: "", events: d.right } as Commit]);
      for (const e of d.right) trackActive(active, e, model());
    };
    const hasOutcome = (s: string) => {
      const [runId, stepId] = s.split("/") as [string, string];
      const st = model().step(runId, stepId)?.status;
      return st === "succeeded" || st === "failed" || st === "cancelled" || st === "reused";
    };
    const plan = () => nextActions(active.values(), [slot], T0, GRACE, hasOutcome).actions.map(show);
    return { run, model, active, plan };
  };

  const root = executionIdOf("R1", "1", 1);
  const call = (n: number, targetName: string, args: unknown[], options: object = {}): SpecCommand => ({
    type: "ScheduleStep",
    runId: "R1",
    call: { executionId: root, callId: `${root}/${n}` },
    target: { repository: "shop", target: targetName },
    kind: "task",
    arguments: args as never,
    options,
  });

  /** A run whose root execution runs on a1 and has called `charge` (step 2), not yet assigned. */
  const started = () => {
    const w = world();
    w.run({ type: "ConnectAgent", agentId: "a1", tags: {}, concurrency: 8, manifests });
    w.run({ type: "SubmitRun", runId: "R1", target: { repository: "shop", target: "checkout" }, arguments: [] });
    w.run({ type: "AssignExecution", executionId: root, agentId: "a1" });
    w.run({ type: "RecordStarted", executionId: root, agentId: "a1" });
    w.run(call(1, "charge", [1]));
    const charge = w.model().call(`${root}/1`)!;
    const handle = { [HANDLE_TAG]: { runId: "R1", stepId: charge.stepId, executionId: executionIdOf("R1", charge.stepId, 1) } };
    return { w, charge, handle };
  };

  it.each([
    ["with wait, a step given a handle is held until the handle's step has an outcome", true, true],
    ["without wait, a step given a handle is assigned at once (the handle travels unresolved)", false, false],
  ] as [string, boolean, boolean][])("%s", (_name, wait, held) => {
    const { w, charge, handle } = started();
    w.run(call(2, "email", [{ receipt: handle }], wait ? { wait: true } : {}));
    const email = w.model().call(`${root}/2`)!;
    const emailX = executionIdOf("R1", email.stepId, 1);
    const chargeX = executionIdOf("R1", charge.stepId, 1);
    expect(w.active.get(emailX)?.waitFor).toEqual(wait ? [`R1/${charge.stepId}`] : undefined);
    const first = w.plan();
    expect(first).toContain(`assign R1/${chargeX} → a1`);
    expect(first.includes(`assign R1/${emailX} → a1`)).toBe(!held);
    // The awaited step ends: now the waiting one is assigned as well.
    w.run({ type: "AssignExecution", executionId: chargeX, agentId: "a1" });
    w.run({ type: "RecordResult", executionId: chargeX, agentId: "a1", outcome: { ok: true, value: 42 } });
    expect(w.active.has(chargeX)).toBe(false);
    expect(w.plan()).toEqual([`assign R1/${emailX} → a1`]);
  });

  it("a failed awaited step resolves the wait as well: the waiting step is assigned and sees the failure through its handle", () => {
    const { w, charge, handle } = started();
    w.run(call(2, "email", [handle], { wait: true }));
    const emailX = executionIdOf("R1", w.model().call(`${root}/2`)!.stepId, 1);
    const chargeX = executionIdOf("R1", charge.stepId, 1);
    w.run({ type: "AssignExecution", executionId: chargeX, agentId: "a1" });
    expect(w.plan()).toEqual([]);
    w.run({ type: "RecordResult", executionId: chargeX, agentId: "a1", outcome: { ok: false, error: { type: "E", message: "no", retryable: false } } });
    expect(w.plan()).toEqual([`assign R1/${emailX} → a1`]);
  });
});
