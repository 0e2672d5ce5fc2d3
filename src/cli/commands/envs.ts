/** `tributary envs ls | create NAME [--base ENV]` */
import { parseArgs } from "node:util";
import { toJson } from "../../orchestrator/json.js";
import { api, CliError } from "../client.js";
import { COMMON, targetOf } from "../options.js";

interface EnvRow {
  name: string;
  base?: string;
  archived?: boolean;
  lastSeq: number;
}

export const run = async (argv: string[]): Promise<number> => {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { ...COMMON, base: { type: "string" } } });
  const t = targetOf(values);
  const [sub, name] = positionals;
  const path = `/api/projects/${encodeURIComponent(t.project)}/envs`;
  if (sub === "ls") {
    const rows = await api<EnvRow[]>(t.server, "GET", path);
    if (values.json) console.log(toJson(rows));
    else {
      const children = new Map<string, EnvRow[]>();
      for (const r of rows) children.set(r.base ?? "", [...(children.get(r.base ?? "") ?? []), r]);
      const walk = (r: EnvRow, indent: string) => {
        console.log(`${indent}${r.name}${r.archived ? " (archived)" : ""}  ${r.lastSeq} commits`);
        for (const c of children.get(r.name) ?? []) walk(c, indent + "  ");
      };
      for (const r of rows.filter((r) => !r.base || !rows.some((x) => x.name === r.base))) walk(r, "");
    }
    return 0;
  }
  if (sub === "create" && name) {
    const created = await api<EnvRow>(t.server, "POST", path, { name, ...(values.base ? { base: values.base } : {}) });
    console.log(values.json ? toJson(created) : `created environment ${t.project}/${name}${values.base ? ` (base ${values.base})` : ""}`);
    return 0;
  }
  throw new CliError("usage: tributary envs ls | create NAME [--base ENV]", 1);
};
