/** `tributary projections rebuild | dump` (of one environment): see PROJECTIONS in ../table.ts. */
import { toJson } from "../../protocol/json.js";
import { clientOf } from "../client.js";
import { targetOf } from "../options.js";
import { PROJECTIONS } from "../table.js";
import { parse, UsageError, usageOf } from "../usage.js";

export const run = async (argv: string[]): Promise<number> => {
  // Arguments, checked against the table.
  const parsed = parse(PROJECTIONS, argv);
  const { values, positionals } = parsed;
  const t = targetOf(parsed);

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
  throw new UsageError(`unknown subcommand ${JSON.stringify(positionals[0])}`, usageOf(PROJECTIONS));
};
