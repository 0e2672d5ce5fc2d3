/**
 * `tributary demo environments`: the environments walk-through of
 * docs/environments.md, end to end in one process. Runs the `etl:daily`
 * workflow in production; branches `dev` from production's log; starts an
 * agent in `dev` with new code for one task (`examples/etl-v2.ts`); re-runs
 * that step of the production run inside `dev`, cascading to its callers;
 * prints both trees and what was executed and what was reused.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { startAgent } from "../../agent/runtime.js";
import type { Outcome } from "../../protocol/messages.js";
import { TributaryServer } from "../../orchestrator/server/index.js";
import type { RunView } from "../../projections/index.js";
import { clientOf } from "../client.js";
import { renderRunTree, showValue } from "../output.js";

const EXAMPLES = resolve(fileURLToPath(import.meta.url), "../../../../examples");
// From the sources, examples/*.ts; from the built package, their build (dist/examples/*.js).
const EXT = import.meta.url.endsWith(".ts") ? ".ts" : ".js";

export const runEnvironmentsDemo = async (values: { data?: string | undefined; nats?: string | undefined }): Promise<number> => {
  const dataDir = values.data ?? (await mkdtemp(join(tmpdir(), "tributary-demo-envs-")));
  const server = await TributaryServer.start({ dataDir, port: 0, ...(values.nats ? { nats: values.nats } : {}), onNotice: () => {} });
  const prod = clientOf({ server: server.url, project: "default", env: "production" });
  const dev = prod.withEnv("dev");
  const agents = [await startAgent({ server: server.url, project: "default", env: "production", tags: {}, modules: [join(EXAMPLES, `etl${EXT}`)] })];
  try {
    console.log(`server ${server.url} (log: ${server.log.kind}); agent in production hosts examples/etl.ts\n`);
    const { runId } = await prod.submit("etl:daily", ["2026-11-21"]);
    const first = await prod.run(runId).outcome();
    console.log(`1. production ran etl:daily("2026-11-21") as run ${runId}: ${show(first)}`);
    const prodView = await prod.run(runId).view();
    console.log(indent(renderRunTree(prodView)));

    const branch = await prod.branchEnvironment("dev", { from: "production" });
    console.log(`\n2. branched dev from production at sequence ${branch.branchedFrom?.at}:`);
    console.log("   tributary envs branch dev --from production");
    agents.push(await startAgent({ server: server.url, project: "default", env: "dev", tags: {}, modules: [join(EXAMPLES, `etl-v2${EXT}`)] }));
    console.log("   an agent in dev hosts examples/etl-v2.ts: the same repository, with a new scoring formula");

    const scoreStep = prodView.steps.find((s) => s.target.target === "score")!.stepId;
    await dev.run(runId).rerun(scoreStep, { cascade: true });
    console.log(`\n3. re-ran step ${scoreStep} (etl:score) of the production run inside dev, cascading to its callers:`);
    console.log(`   tributary runs rerun ${runId} ${scoreStep} --env dev --cascade`);
    let view = await dev.run(runId).view();
    for (let i = 0; i < 400 && (view.run.pending > 0 || view.steps[0]!.status !== "succeeded"); i++) {
      await new Promise((r) => setTimeout(r, 25));
      view = await dev.run(runId).view();
    }
    console.log(indent(renderRunTree(view, new Set(view.stale))));

    const executed = Object.values(view.executions).map((x) => view.steps.find((s) => s.stepId === x.stepId)!.target.target);
    const mine = new Set(Object.keys(view.executions));
    const reused = view.steps
      .filter((s) => s.status === "reused" && s.parentExecutionId !== undefined && mine.has(s.parentExecutionId))
      .map((s) => `${s.target.target} (from ${s.reusedFrom!.env})`);
    console.log(`\n   executed in dev: ${executed.join(", ")}`);
    console.log(`   called again by the re-run code and reused, not executed: ${reused.join(", ")}`);
    console.log(`   the result in production: ${showValue(stepResult(prodView))}; in dev: ${showValue(stepResult(view))}`);
    console.log(`\n   see it: tributary runs show ${runId} --env dev; tributary runs history ${runId} --env dev`);
    return 0;
  } finally {
    for (const a of agents) await a.stop({ drainMs: 0 });
    await server.close();
    if (!values.data) await rm(dataDir, { recursive: true, force: true });
  }
};

const show = (o: Outcome) => (o.status === "succeeded" ? showValue(o.value, 200) : `${o.status}: ${o.error.message}`);
const indent = (text: string) => text.replace(/^/gm, "   ");
const stepResult = (v: RunView) => {
  const r = v.steps[0]?.result;
  return r?.kind === "inline" ? r.value : undefined;
};
