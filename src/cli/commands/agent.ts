/**
 * `tributary agent --server URL [--project P] [--env E] [--tag k=v]... [--concurrency N] [--workers N]
 *  [--max-asset-bytes N] [--keep-workdirs] [--workdir-root DIR] MODULE...`
 */
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { AgentRefusedError } from "../../agent/errors.js";
import { startAgent } from "../../agent/runtime.js";
import { wholeNumber } from "../args.js";
import { CliError } from "../client.js";
import { COMMON, targetOf } from "../options.js";

export const run = async (argv: string[]): Promise<number> => {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      ...COMMON,
      tag: { type: "string", multiple: true },
      concurrency: { type: "string" },
      workers: { type: "string" },
      "max-asset-bytes": { type: "string" },
      "keep-workdirs": { type: "boolean", default: false },
      "workdir-root": { type: "string" },
    },
  });
  if (positionals.length === 0) throw new CliError("give at least one module of workflows and tasks, e.g. examples/orders.ts", 1);
  const t = targetOf(values);
  const tags: Record<string, string[]> = {};
  for (const kv of values.tag ?? []) {
    const m = /^([^=]+)=(.*)$/.exec(kv);
    if (!m) throw new CliError(`--tag takes key=value, got ${JSON.stringify(kv)}`, 1);
    (tags[m[1]!] ??= []).push(m[2]!);
  }
  const concurrency = wholeNumber("concurrency", values.concurrency, 1, 100_000);
  const workers = wholeNumber("workers", values.workers, 1, 1024);
  const maxAssetBytes = wholeNumber("max-asset-bytes", values["max-asset-bytes"], 1);
  const agent = await startAgent({
    server: t.server,
    project: t.project,
    env: t.env,
    tags,
    modules: positionals.map((p) => resolve(p)),
    ...(concurrency ? { concurrency } : {}),
    ...(workers ? { workers } : {}),
    ...(maxAssetBytes ? { maxAssetBytes } : {}),
    ...(values["keep-workdirs"] ? { keepWorkdirs: true } : {}),
    ...(values["workdir-root"] ? { workdirRoot: resolve(values["workdir-root"]) } : {}),
  }).catch((e: unknown) => {
    // A module that does not load, or a server that refuses the agent: the message says what to do, no stack.
    const message = (e as Error).message;
    if (message.startsWith("cannot load module") || e instanceof AgentRefusedError) throw new CliError(message, 1);
    throw e;
  });
  console.error(`agent ${agent.agentId} connected to ${t.server} (${t.project}/${t.env})`);
  await new Promise<void>((r) => {
    process.once("SIGINT", r);
    process.once("SIGTERM", r);
  });
  await agent.stop();
  return 0;
};
