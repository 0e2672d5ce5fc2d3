/**
 * `tributary demo`: the main job for a new user. Starts a server on the
 * embedded log and an agent hosting `examples/orders.ts`, submits the
 * `process_orders` workflow over the HTTP API, waits for it, and prints the
 * run tree and the run's full history from the log.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { startAgent } from "../../agent/runtime.js";
import type { Outcome } from "../../protocol/messages.js";
import type { Commit, Event } from "../../events/index.js";
import { TributaryServer } from "../../orchestrator/server.js";
import type { RunView } from "../../projections/index.js";
import { api, envPath } from "../client.js";
import { renderHistory, renderRunTree, showValue } from "../output.js";
import { DEMO } from "../table.js";
import { parse } from "../usage.js";

const EXAMPLES = resolve(fileURLToPath(import.meta.url), "../../../../examples/orders.ts");

export const run = async (argv: string[]): Promise<number> => {
  // Arguments, checked against the table.
  const { values, sub } = parse(DEMO, argv);
  if (sub === "environments") return (await import("./demo-environments.js")).runEnvironmentsDemo(values);

  const dataDir = values.data ?? (await mkdtemp(join(tmpdir(), "tributary-demo-")));
  const server = await TributaryServer.start({ dataDir, port: 0, ...(values.nats ? { nats: values.nats } : {}), onNotice: () => {} });
  const t = { server: server.url, project: "default", env: "production" };
  const agent = await startAgent({ server: server.url, project: t.project, env: t.env, tags: {}, modules: [EXAMPLES] });
  try {
    console.log(`server ${server.url} (log: ${server.log.kind}, data: ${dataDir}); agent ${agent.agentId} hosts examples/orders.ts\n`);
    const { runId } = await api<{ runId: string }>(t.server, "POST", envPath(t, "/runs"), {
      target: "orders:process_orders",
      arguments: [[101, 102, 103]],
    });
    console.log(`submitted orders:process_orders([101, 102, 103]) as run ${runId}; waiting…`);
    const { outcome } = await api<{ outcome: Outcome }>(t.server, "GET", envPath(t, `/runs/${runId}/result?wait=true`));
    console.log(
      outcome.status === "succeeded"
        ? `result: ${showValue(outcome.value, 200)}\n`
        : `run ${outcome.status}: ${outcome.error.type}: ${outcome.error.message}\n`,
    );
    const view = await api<RunView>(t.server, "GET", envPath(t, `/runs/${runId}`));
    console.log(renderRunTree(view));
    const rows = await api<(Event & { seq: number })[]>(t.server, "GET", envPath(t, `/runs/${runId}/history`));
    const commits: Commit[] = [];
    for (const { seq, ...e } of rows) {
      const last = commits[commits.length - 1];
      if (last?.seq === seq) (last.events as Event[]).push(e as unknown as Event);
      else commits.push({ seq, id: e.id, subject: "", events: [e as unknown as Event] });
    }
    console.log(`\nhistory of run ${runId}, from the log:\n${renderHistory(commits)}`);
    console.log(`\nnext: 'tributary server' and 'tributary agent examples/orders.ts' in two terminals, then 'tributary submit orders:process_orders --arg "[1,2,3]" --wait'`);
    return outcome.status === "succeeded" ? 0 : 3;
  } finally {
    await agent.stop();
    await server.close();
    if (!values.data) await rm(dataDir, { recursive: true, force: true });
  }
};
