/** `tributary inputs ls | show ID | answer ID --value JSON`: see INPUTS in ../table.ts. */
import type { Value } from "../../events/index.js";
import { fromJson, toJson } from "../../protocol/json.js";
import type { InputDoc } from "../../projections/index.js";
import { describePrincipal } from "../../events/index.js";
import { clientOf } from "../client.js";
import { targetOf } from "../options.js";
import { INPUTS } from "../table.js";
import { parse, UsageError, usageOf } from "../usage.js";

const when = (ms: number | undefined): string => (ms === undefined ? "-" : new Date(ms).toISOString());

export const run = async (argv: string[]): Promise<number> => {
  const parsed = parse(INPUTS, argv);
  const { values, positionals } = parsed;
  const client = clientOf(targetOf(parsed));
  const [sub, inputId] = positionals;

  if (sub === "ls") {
    const all = await client.listInputs({ ...(values.pending ? { status: "pending" as const } : {}), ...(values.run ? { run: values.run } : {}) });
    const inputs = [...all.filter((i) => i.status === "pending"), ...all.filter((i) => i.status !== "pending")];
    if (values.json) console.log(toJson(inputs));
    else {
      console.log(`${"input".padEnd(26)}  ${"status".padEnd(8)}  ${"asked".padEnd(24)}  ${"run / step".padEnd(32)}  title`);
      for (const i of inputs) console.log(`${i.inputId.padEnd(26)}  ${i.status.padEnd(8)}  ${when(i.requestedAt).padEnd(24)}  ${`${i.runId} / ${i.stepId}`.padEnd(32)}  ${i.title}`);
    }
    return 0;
  }
  if (sub === "show" && inputId) {
    const i = await client.input(inputId);
    console.log(values.json ? toJson(i) : describe(i));
    return 0;
  }
  if (sub === "answer" && inputId) {
    let value: Value;
    try {
      value = fromJson(values.value ?? "") as Value;
    } catch (e) {
      throw new UsageError(`--value must be JSON: ${(e as Error).message}`, usageOf(INPUTS, "answer"));
    }
    const r = await client.answerInput(inputId, value);
    if (values.json) console.log(toJson(r));
    else console.log(r.already ? `input ${inputId} had this answer already` : `answered input ${inputId}: its execution resumes`);
    return 0;
  }
  throw new UsageError(`unknown subcommand ${JSON.stringify(sub)}`, usageOf(INPUTS));
};

const describe = (i: InputDoc): string =>
  [
    `input ${i.inputId}  ${i.status.toUpperCase()}  "${i.title}"`,
    `asked ${when(i.requestedAt)} by ${i.executionId} (run ${i.runId}, step ${i.stepId}, call ${i.callId})`,
    `schema ${toJson(i.schema)}`,
    ...(i.status === "answered" ? [`answer ${toJson(i.value ?? null)}  at ${when(i.answeredAt)}${i.answeredBy ? ` by ${describePrincipal(i.answeredBy)}` : ""}`] : []),
  ].join("\n");
