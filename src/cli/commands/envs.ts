/** `tributary envs ls | create NAME | update NAME | archive NAME | branch NAME | pause NAME | resume NAME`: see ENVS in ../table.ts. */
import { toJson } from "../../protocol/json.js";
import type { EnvironmentAnswer } from "../../protocol/api.js";
import { CliError, clientOf } from "../client.js";
import { targetOf } from "../options.js";
import { renderEnvs } from "../output.js";
import { ENVS } from "../table.js";
import { parse, UsageError, usageOf } from "../usage.js";

type EnvRow = EnvironmentAnswer & { readonly lastSeq?: number };

export const run = async (argv: string[]): Promise<number> => {
  // Arguments, checked against the table.
  const parsed = parse(ENVS, argv);
  const { values, positionals } = parsed;
  const t = targetOf(parsed);
  const client = clientOf(t);
  const [sub, name] = positionals;
  if (sub === "update" && (values.base === undefined) === !values["no-base"]) throw new UsageError("give --base ENV or --no-base", usageOf(ENVS, sub));
  if (sub === "branch" && values.at !== undefined && values["at-time"] !== undefined) throw new UsageError("give --at or --at-time, not both", usageOf(ENVS, sub));
  if (sub === "ls") {
    const rows: EnvRow[] = await client.listEnvironments();
    if (values.json) console.log(toJson(rows));
    else if (rows.length > 0) console.log(renderEnvs(rows));
    return 0;
  }
  if (sub === "create" && name) {
    const created = await client.createEnvironment(name, values.base ? { base: values.base } : {});
    console.log(values.json ? toJson(created) : `created environment ${t.project}/${name}${values.base ? ` (base ${values.base})` : ""}`);
    return 0;
  }
  if (sub === "update" && name) {
    const r = await client.setBase(name, values["no-base"] ? null : values.base!);
    console.log(values.json ? toJson(r) : `environment ${t.project}/${name} now has ${r.base ? `base ${r.base}` : "no base"}`);
    return 0;
  }
  if (sub === "archive" && name) {
    const r = await client.archiveEnvironment(name);
    console.log(values.json ? toJson(r) : `archived environment ${t.project}/${name}: it accepts no new runs and cannot be a base`);
    return 0;
  }
  if ((sub === "pause" || sub === "resume") && name) {
    const r = sub === "pause" ? await client.pauseEnvironment(name, values.reason === undefined ? {} : { reason: values.reason }) : await client.resumeEnvironment(name);
    console.log(
      values.json
        ? toJson(r)
        : sub === "pause"
          ? `paused environment ${t.project}/${name}: nothing new is assigned until 'tributary envs resume ${name}'`
          : `resumed environment ${t.project}/${name}: its queued executions are assigned again`,
    );
    return 0;
  }
  if (sub === "branch" && name && values.from) {
    const at = values.at === undefined ? undefined : Number(values.at);
    if (at !== undefined && !Number.isSafeInteger(at)) throw new CliError(`--at takes a log sequence number, got ${JSON.stringify(values.at)}`, 1);
    const r = await client.branchEnvironment(name, {
      from: values.from,
      ...(at === undefined ? {} : { at }),
      ...(values["at-time"] === undefined ? {} : { atTime: values["at-time"] }),
    });
    console.log(values.json ? toJson(r) : `branched ${t.project}/${name} from ${values.from} at sequence ${r.branchedFrom?.at}`);
    return 0;
  }
  throw new UsageError(`unknown subcommand ${JSON.stringify(sub)}`, usageOf(ENVS));
};
