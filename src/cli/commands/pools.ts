/** `tributary pools create NAME --launcher process --modules FILE... | ls | delete NAME`: see POOLS in ../table.ts. */
import { resolve } from "node:path";
import { toJson } from "../../protocol/json.js";
import { wholeNumber } from "../args.js";
import { CliError, clientOf } from "../client.js";
import { targetOf } from "../options.js";
import { POOLS } from "../table.js";
import { parse, UsageError, usageOf } from "../usage.js";

interface PoolRow {
  readonly name: string;
  readonly launcher: string;
  readonly modules: readonly string[];
  readonly max: number;
  readonly tags: { readonly [k: string]: readonly string[] };
  readonly agents?: readonly { agentId: string; pid?: number; connected: boolean; log: string }[];
  readonly logDir?: string;
  readonly created?: boolean;
}

export const run = async (argv: string[]): Promise<number> => {
  const parsed = parse(POOLS, argv);
  const { values, positionals } = parsed;
  const t = targetOf(parsed);
  const client = clientOf(t);
  const [sub, name, ...more] = positionals;
  const base = `/api/projects/${t.project}/envs/${t.env}/pools`;
  if (sub === "ls") {
    const { pools } = await client.request<{ pools: PoolRow[] }>("GET", base);
    if (values.json) console.log(toJson(pools));
    else for (const p of pools) console.log(describe(p));
    return 0;
  }
  if (sub === "create" && name) {
    if (values.launcher !== "process") throw new CliError(`--launcher takes process (agents as processes on the server's machine), got ${JSON.stringify(values.launcher)}`, 1);
    const modules = [...values.modules, ...more].map((m) => resolve(m));
    if (modules.length === 0) throw new UsageError("give --modules FILE: a module the pool's agents host", usageOf(POOLS, sub));
    const max = wholeNumber("max", values.max, 1, 1000);
    const tags: Record<string, string[]> = {};
    for (const kv of values.tag) {
      const m = /^([^=]+)=(.*)$/.exec(kv);
      if (!m) throw new CliError(`--tag takes key=value, got ${JSON.stringify(kv)}`, 1);
      (tags[m[1]!] ??= []).push(m[2]!);
    }
    const made = await client.request<PoolRow>("POST", base, { name, launcher: "process", modules, ...(max === undefined ? {} : { max }), tags });
    if (values.json) console.log(toJson(made));
    else console.log(`${made.created ? "created" : "unchanged:"} pool ${name} in ${t.project}/${t.env}: up to ${made.max} agent${made.max === 1 ? "" : "s"} of ${made.modules.join(" ")}; their output goes to ${made.logDir ?? "(no launcher on this server)"}`);
    return 0;
  }
  if (sub === "delete" && name) {
    const r = await client.request("POST", `${base}/${encodeURIComponent(name)}/delete`, {});
    console.log(values.json ? toJson(r) : `deleted pool ${name}: its agents are told to stop`);
    return 0;
  }
  throw new UsageError(`unknown subcommand ${JSON.stringify(sub)}`, usageOf(POOLS));
};

const describe = (p: PoolRow): string => {
  const tags = Object.entries(p.tags).flatMap(([k, vs]) => vs.map((v) => `${k}=${v}`));
  const agents = p.agents ?? [];
  const lines = [
    `${p.name}  ${p.launcher}  max ${p.max}  ${agents.length} agent${agents.length === 1 ? "" : "s"} now${tags.length ? `  tags ${tags.join(",")}` : ""}`,
    `  modules: ${p.modules.join(" ")}`,
    ...(p.logDir ? [`  output: ${p.logDir}`] : []),
    ...agents.map((a) => `  ${a.agentId}  pid ${a.pid ?? "?"}  ${a.connected ? "connected" : "starting"}`),
  ];
  return lines.join("\n");
};
