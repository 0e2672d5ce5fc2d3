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
import type { Commit, Event } from "../../events/index.js";
import { TributaryServer } from "../../orchestrator/server/index.js";
import { clientOf } from "../client.js";
import { renderHistory, renderRunTree, showValue } from "../output.js";
import { DEMO } from "../table.js";
import { parse } from "../usage.js";

// From the sources, examples/orders.ts; from the built package, its build (dist/examples/orders.js).
const EXAMPLES = resolve(fileURLToPath(import.meta.url), `../../../../examples/orders${import.meta.url.endsWith(".ts") ? ".ts" : ".js"}`);

export const run = async (argv: string[]): Promise<number> => {
  // Arguments, checked against the table.
  const { values, sub } = parse(DEMO, argv);
  if (sub === "environments") return (await import("./demo-environments.js")).runEnvironmentsDemo(values);

  const dataDir = values.data ?? (await mkdtemp(join(tmpdir(), "tributary-demo-")));
  const server = await TributaryServer.start({ dataDir, port: 0, ...(values.nats ? { nats: values.nats } : {}), onNotice: () => {} });
  const t = { server: server.url, project: "default", env: "production" };
  const client = clientOf(t);
  const agent = await startAgent({ server: server.url, project: t.project, env: t.env, tags: {}, modules: [EXAMPLES] });
  try {
    console.log(`server ${server.url} (log: ${server.log.kind}, data: ${dataDir}); agent ${agent.agentId} hosts examples/orders.ts\n`);
    const { runId } = await client.submit("orders:process_orders", [[101, 102, 103]]);
    console.log(`submitted orders:process_orders([101, 102, 103]) as run ${runId}; waiting…`);
    const run = client.run(runId);
    const outcome = await run.outcome();
    console.log(
      outcome.status === "succeeded"
        ? `result: ${showValue(outcome.value, 200)}\n`
        : `run ${outcome.status}: ${outcome.error.type}: ${outcome.error.message}\n`,
    );
    const view = await run.view();
    console.log(renderRunTree(view));
    const rows = await run.history();
    const commits: Commit[] = [];
    for (const { seq, index: _i, ...e } of rows) {
      const last = commits[commits.length - 1];
      if (last?.seq === seq) (last.events as Event[]).push(e as Event);
      else commits.push({ seq, id: e.id, subject: "", events: [e as Event] });
    }
    console.log(`\nhistory of run ${runId}, from the log:\n${renderHistory(commits)}`);
    console.log(`\nnext: 'tributary server' and 'tributary agent examples/orders.ts' in two terminals, then 'tributary submit orders:process_orders --arg "[1,2,3]" --wait'`);
    // Studio: the demo's server stops as it ends, so say how to open this run in the browser afterwards.
    const serve = `tributary server --data ${dataDir}${values.nats ? ` --nats ${values.nats}` : ""}`;
    console.log(
      values.data
        ? `studio: '${serve}', then open http://127.0.0.1:7777/projects/${t.project}/envs/${t.env}/runs/${runId}`
        : `studio: this demo's data goes away as it ends; to see its run in the browser, 'tributary demo --data ./demo-data', then 'tributary server --data ./demo-data' and open the address it prints`,
    );
    return outcome.status === "succeeded" ? 0 : 3;
  } finally {
    await agent.stop();
    await server.close();
    if (!values.data) await rm(dataDir, { recursive: true, force: true });
  }
};
