/** `tributary submit REPO:TARGET [--arg JSON]... [--idempotency-key K] [--wait]` */
import { parseArgs } from "node:util";
import type { Outcome } from "../../agent/protocol.js";
import { fromJson, toJson } from "../../orchestrator/json.js";
import { api, CliError, envPath } from "../client.js";
import { COMMON, targetOf } from "../options.js";
import { showValue } from "../output.js";

export const run = async (argv: string[]): Promise<number> => {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      ...COMMON,
      arg: { type: "string", multiple: true },
      "idempotency-key": { type: "string" },
      wait: { type: "boolean", default: false },
    },
  });
  const t = targetOf(values);
  const target = positionals[0];
  if (!target || positionals.length > 1) throw new CliError("give one target as REPOSITORY:TARGET, e.g. orders:process_orders", 1);
  const args = (values.arg ?? []).map((a, i) => {
    try {
      return fromJson(a);
    } catch {
      throw new CliError(`--arg number ${i + 1} is not valid JSON: ${a}`, 1);
    }
  });
  const submitted = await api<{ runId: string; created: boolean }>(t.server, "POST", envPath(t, "/runs"), {
    target,
    arguments: args,
    ...(values["idempotency-key"] ? { idempotencyKey: values["idempotency-key"] } : {}),
  });
  if (!values.wait) {
    console.log(values.json ? toJson(submitted) : submitted.runId);
    return 0;
  }
  if (!values.json) console.error(`run ${submitted.runId}${submitted.created ? "" : " (existing, same idempotency key)"}: waiting…`);
  const r = await api<{ outcome: Outcome }>(t.server, "GET", envPath(t, `/runs/${submitted.runId}/result?wait=true`));
  if (values.json) console.log(toJson({ runId: submitted.runId, ...r.outcome }));
  else if (r.outcome.status === "succeeded") console.log(showValue(r.outcome.value, 10_000));
  else console.error(`run ${submitted.runId} ${r.outcome.status}: ${r.outcome.error.type}: ${r.outcome.error.message}`);
  return r.outcome.status === "succeeded" ? 0 : 3;
};
