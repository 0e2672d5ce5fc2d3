/** `tributary projections rebuild | dump` (of one environment). */
import { parseArgs } from "node:util";
import { toJson } from "../../protocol/json.js";
import { CliError, clientOf } from "../client.js";
import { COMMON, targetOf } from "../options.js";

export const run = async (argv: string[]): Promise<number> => {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: COMMON });
  const t = targetOf(values);
  if (positionals[0] === "rebuild") {
    const r = await clientOf(t).rebuildProjections();
    console.log(values.json ? toJson(r) : `rebuilt ${t.project}/${t.env} from ${r.rebuilt} commits of the log`);
    return 0;
  }
  if (positionals[0] === "dump") {
    const r = await clientOf(t).dumpProjections();
    if (values.json) console.log(toJson(r));
    else for (const l of r.lines) console.log(l);
    return 0;
  }
  throw new CliError("usage: tributary projections rebuild | dump", 1);
};
