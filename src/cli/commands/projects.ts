/** `tributary projects ls`: see PROJECTS in ../table.ts. */
import { toJson } from "../../protocol/json.js";
import { clientOf } from "../client.js";
import { connectionOf } from "../options.js";
import { PROJECTS } from "../table.js";
import { parse, UsageError, usageOf } from "../usage.js";

export const run = async (argv: string[]): Promise<number> => {
  const parsed = parse(PROJECTS, argv);
  const [sub] = parsed.positionals;
  if (sub !== "ls") throw new UsageError(`unknown subcommand ${JSON.stringify(sub)}`, usageOf(PROJECTS));
  const rows = await clientOf({ ...connectionOf(parsed), project: "default" }).listProjects();
  if (parsed.values.json) console.log(toJson(rows));
  else for (const p of rows) console.log(`${p.name}  ${p.envs} environment${p.envs === 1 ? "" : "s"}`);
  return 0;
};
