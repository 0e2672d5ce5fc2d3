/**
 * `tributary demo`: the main job for a new user. Starts a server on the
 * embedded log and an agent hosting `examples/orders.ts`, submits the
 * `process_orders` workflow over the HTTP API, waits for it, and prints the
 * run tree, the run's full history from the log, and the run's address in
 * Studio. The data stays (by default in `<tmp>/tributary-demo`, replaced at
 * each demo), so `tributary server --data DIR` serves that address later;
 * with `--serve` the demo's own server stays up until SIGINT / SIGTERM.
 */
import { createServer } from "node:net";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { startAgent } from "../../agent/runtime.js";
import type { Commit, Event } from "../../events/index.js";
import { DataDirLock, DataDirLocked } from "../../orchestrator/data-lock.js";
import { TributaryServer, type ServerOptions } from "../../orchestrator/server/index.js";
import { wholeNumber } from "../args.js";
import { CliError, clientOf } from "../client.js";
import { renderHistory, renderRunTree, showValue } from "../output.js";
import { DEMO } from "../table.js";
import { parse } from "../usage.js";

// From the sources, examples/orders.ts; from the built package, its build (dist/examples/orders.js).
const EXAMPLES = resolve(fileURLToPath(import.meta.url), `../../../../examples/orders${import.meta.url.endsWith(".ts") ? ".ts" : ".js"}`);

/** Where the demo keeps its data without --data: replaced at each demo. */
export const DEMO_DATA = join(tmpdir(), "tributary-demo");

export const run = async (argv: string[]): Promise<number> => {
  // Arguments, checked against the table.
  const { values, sub } = parse(DEMO, argv);
  if (sub === "environments") return (await import("./demo-environments.js")).runEnvironmentsDemo(values);

  const port = wholeNumber("port", values.port, 0, 65535)!;
  const dataDir = values.data === undefined ? await freshDemoData() : resolve(values.data);
  const server = await startDemoServer({ dataDir, port: values.serve ? port : 0, ...(values.nats ? { nats: values.nats } : {}), onNotice: () => {} });
  const t = { server: server.url, project: "default", env: "production" };
  const client = clientOf(t);
  const agent = await startAgent({ server: server.url, project: t.project, env: t.env, tags: {}, modules: [EXAMPLES] });
  // With --serve, the signal that ends the demo is caught from the start (a Ctrl-C during the run ends it cleanly too).
  const stop = values.serve
    ? new Promise<void>((done) => {
        process.once("SIGINT", done);
        process.once("SIGTERM", done);
      })
    : undefined;
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
    const path = `/projects/${t.project}/envs/${t.env}/runs/${encodeURIComponent(runId)}`;
    const code = outcome.status === "succeeded" ? 0 : 3;
    if (stop) {
      console.log(`\nstudio: ${server.url}${path}`);
      console.log(`the demo's server stays up for Studio; Ctrl-C stops it (its data stays in ${dataDir})`);
      await stop;
      return code;
    }
    // The demo's server stops as it ends; its data stays, for a server started on it later.
    const serve = `tributary server --data ${shellWord(dataDir)}${values.nats ? ` --nats ${shellWord(values.nats)}` : ""}${port === 7777 ? "" : ` --port ${port}`}`;
    console.log(`\nstudio: http://127.0.0.1:${port}${path}`);
    console.log(`served by: ${serve}   (or 'tributary demo --serve${port === 7777 ? "" : ` --port ${port}`}', which keeps the demo's server up)`);
    if (await portTaken(port)) console.log(`note: 127.0.0.1:${port} is in use now (another server?): stop it first, or give both commands another --port`);
    // Only without --serve: with it, the demo's own server is up already.
    console.log(`\nnext: 'tributary server' and 'tributary agent examples/orders.ts' in two terminals, then 'tributary submit orders:process_orders --arg "[1,2,3]" --wait'`);
    // Run from the sources (a clone: bin/tributary.mjs through tsx), 'tributary' is not on PATH (README, "Running it yourself").
    if (FROM_SOURCES) console.log(`(in a clone 'tributary' is not on PATH: run these as 'npm run tributary -- …', e.g. 'npm run tributary -- ${serve.slice("tributary ".length)}')`);
    return code;
  } finally {
    await agent.stop();
    await server.close();
    if (stop) setTimeout(() => process.exit(process.exitCode ?? 0), 50).unref();
  }
};

/** Is the CLI running from its TypeScript sources (a clone), not from the built package? */
const FROM_SOURCES = import.meta.url.endsWith(".ts");

/** The demo's default data directory, emptied; refused while a server (an earlier `demo --serve`, say) uses it. */
const freshDemoData = async (): Promise<string> => {
  try {
    DataDirLock.acquire(DEMO_DATA).release();
  } catch (e) {
    if (e instanceof DataDirLocked) {
      throw new CliError(
        `the demo's data directory ${DEMO_DATA} is in use by a server (pid ${e.pid}): a 'tributary demo --serve' or a 'tributary server --data ${DEMO_DATA}' still running? Stop it, or give this demo --data DIR`,
        1,
      );
    }
    throw e;
  }
  await rm(DEMO_DATA, { recursive: true, force: true });
  return DEMO_DATA;
};

const startDemoServer = async (options: ServerOptions): Promise<TributaryServer> => {
  try {
    return await TributaryServer.start(options);
  } catch (e) {
    if (e instanceof DataDirLocked) throw new CliError(e.message, 1);
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EADDRINUSE") throw new CliError(`127.0.0.1:${options.port} is in use (another server, or a demo --serve?): stop it, or give the demo another --port`, 1);
    if (code === "EACCES") throw new CliError(`127.0.0.1:${options.port} may not be listened on by this user: give the demo a --port above 1024`, 1);
    throw e;
  }
};

/** Whether something listens on 127.0.0.1:`port` now. */
const portTaken = (port: number): Promise<boolean> =>
  new Promise((answer) => {
    const probe = createServer();
    probe.once("error", () => answer(true));
    probe.listen(port, "127.0.0.1", () => probe.close(() => answer(false)));
  });

/** `s` as one word of a POSIX shell. */
const shellWord = (s: string): string => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", "'\\''")}'`);
