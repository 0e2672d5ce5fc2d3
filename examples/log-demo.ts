/**
 * The log demo: records, commit by commit, what the orchestrator records when
 * a workflow fans out to three tasks and one of them fails once and is
 * retried; projects the log into LMDB; prints the run tree, then the run's
 * full history from the log; then rebuilds the projections from the log and
 * checks they come out identical.
 *
 *   npm run demo [-- --data DIR] [-- --nats URL]
 *
 * Until the orchestrator lands (issue 3) the decisions are scripted here; the
 * log, the projections and the queries are the real ones.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { IdGenerator, logRef, type Event, type EventLog } from "../src/events/index.js";
import { EmbeddedEventLog, JetStreamEventLog } from "../src/events/storage/index.js";
import { getRunView, PROJECTIONS } from "../src/projections/index.js";
import { LmdbProjectionStore, Projector } from "../src/projections/store/index.js";
import { renderHistory, renderRunTree } from "../src/cli/output.js";

const { values } = parseArgs({ options: { data: { type: "string" }, nats: { type: "string" } } });
const dir = values.data ?? (await mkdtemp(join(tmpdir(), "tributary-demo-")));
const log: EventLog = values.nats
  ? await JetStreamEventLog.connect({ servers: values.nats })
  : new EmbeddedEventLog({ dir: join(dir, "log") });
const ref = logRef("demo", "production");
await log.deleteEnv(ref);
await log.createEnv(ref);

let clock = Date.now();
const ids = new IdGenerator(() => clock);
const id = () => ids.next() as never;
const tick = (ms: number) => (clock += ms);
let last = 0;
/** Appends one decision's events as one commit, fenced on the last sequence. */
const commit = async (...events: Event[]) => {
  last = (await log.append(ref, events, { expectedLastSeq: last })).seq;
};
const ev = (type: Event["type"], data: object, runId?: string): Event =>
  ({ id: id(), type, v: type === "ExecutionFailed" ? 2 : 1, at: clock, ...(runId ? { runId } : {}), data }) as Event;

const orders = { repository: "orders", target: "process_orders" };
const charge = { repository: "orders", target: "charge" };
const runId = `R${ids.next().slice(-8)}`;
const x = (n: number) => `${runId}-x${n}`;

await commit(ev("EnvironmentCreated", { project: "demo", env: "production" }));
await commit(ev("AgentConnected", { agentId: "agent-1", tags: { region: ["eu"] }, repositories: ["orders"], concurrency: 4 }));
await commit(
  ev("ManifestRegistered", {
    repository: "orders",
    agentId: "agent-1",
    targets: [
      { name: "process_orders", kind: "workflow", parameters: [{ name: "orders" }], options: {} },
      { name: "charge", kind: "task", parameters: [{ name: "order" }], options: { retries: { limit: 2, delayMs: 200, factor: 2, maxDelayMs: 5000 } } },
    ],
  }),
);
tick(5);
await commit(
  ev("RunSubmitted", { target: orders, arguments: [[101, 102, 103]], rootStepId: "s1" }, runId),
  ev("StepScheduled", { stepId: "s1", target: orders, kind: "workflow", arguments: [[101, 102, 103]], options: {} }, runId),
  ev("ExecutionCreated", { executionId: x(1), stepId: "s1", attempt: 1, reason: "first" }, runId),
);
tick(2);
await commit(ev("ExecutionAssigned", { executionId: x(1), stepId: "s1", agentId: "agent-1" }, runId));
tick(3);
await commit(ev("ExecutionStarted", { executionId: x(1), stepId: "s1" }, runId));
const retries = { limit: 2, delayMs: 200, factor: 2, maxDelayMs: 5000 };
for (const [i, order] of [101, 102, 103].entries()) {
  tick(1);
  await commit(
    ev("StepScheduled", { stepId: `s${i + 2}`, target: charge, kind: "task", arguments: [order], options: { retries }, parentExecutionId: x(1) }, runId),
    ev("ExecutionCreated", { executionId: x(i + 2), stepId: `s${i + 2}`, attempt: 1, reason: "first" }, runId),
  );
}
for (const i of [2, 3, 4]) {
  tick(1);
  await commit(ev("ExecutionAssigned", { executionId: x(i), stepId: `s${i}`, agentId: "agent-1" }, runId));
  await commit(ev("ExecutionStarted", { executionId: x(i), stepId: `s${i}` }, runId));
}
tick(40);
await commit(ev("ExecutionSucceeded", { executionId: x(2), stepId: "s2", result: { kind: "inline", value: { order: 101, charged: 25 } } }, runId));
tick(3);
await commit(
  ev("ExecutionFailed", { executionId: x(3), stepId: "s3", error: { type: "PaymentDeclined", message: "card issuer timed out", retryable: true } }, runId),
  ev("ExecutionCreated", { executionId: x(5), stepId: "s3", attempt: 2, reason: "retry", notBefore: clock + 200 }, runId),
);
tick(10);
await commit(ev("ExecutionSucceeded", { executionId: x(4), stepId: "s4", result: { kind: "inline", value: { order: 103, charged: 12 } } }, runId));
tick(200);
await commit(ev("ExecutionAssigned", { executionId: x(5), stepId: "s3", agentId: "agent-1" }, runId));
await commit(ev("ExecutionStarted", { executionId: x(5), stepId: "s3" }, runId));
tick(35);
await commit(ev("ExecutionSucceeded", { executionId: x(5), stepId: "s3", result: { kind: "inline", value: { order: 102, charged: 40 } } }, runId));
tick(4);
await commit(ev("ExecutionSucceeded", { executionId: x(1), stepId: "s1", result: { kind: "inline", value: { orders: 3, total: 77 } } }, runId));

const store = await LmdbProjectionStore.open(join(dir, "projections"), PROJECTIONS);
const projector = new Projector({ log, ref, store });
await projector.start();

console.log(`log: ${log.kind}, ${last} commits in ${values.nats ? values.nats : dir}\n`);
console.log(renderRunTree(getRunView(store, runId as never)!));
console.log(`\nhistory of run ${runId} (a subject-filtered read of the log):`);
const history = [];
for await (const c of log.read(ref, { runId: runId as never })) history.push(c);
console.log(renderHistory(history));

const before = store.dump();
await projector.rebuild("demo: rebuild from the log");
const same = JSON.stringify(store.dump()) === JSON.stringify(before);
console.log(`\nrebuilt ${store.checkpoint} commits from the log: ${same ? "identical" : "DIFFERENT"} projections`);
await store.close();
await log.close();
if (!values.data) await rm(dir, { recursive: true, force: true });
if (!same) process.exit(2);
