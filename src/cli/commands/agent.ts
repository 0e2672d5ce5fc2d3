/**
 * `tributary agent --server URL [--project P] [--env E] [--tag k=v]... [--concurrency N] [--workers N]
 *  [--max-asset-bytes N] [--keep-workdirs] [--workdir-root DIR] MODULE...`
 */
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { startAgent } from "../../agent/runtime.js";
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
  const number = (name: string, v: string | undefined) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new CliError(`--${name} takes a whole number of 1 or more, got ${JSON.stringify(v)}`, 1);
    return n;
  };
  const concurrency = number("concurrency", values.concurrency);
  const workers = number("workers", values.workers);
  const maxAssetBytes = number("max-asset-bytes", values["max-asset-bytes"]);
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
  });
  console.error(`agent ${agent.agentId} connected to ${t.server} (${t.project}/${t.env})`);
  await new Promise<void>((r) => {
    process.once("SIGINT", r);
    process.once("SIGTERM", r);
  });
  await agent.stop();
  return 0;
};
