/**
 * `tributary log verify`: decodes every commit of an environment's log and
 * lists each commit that fails, with its sequence. Exit 1 if any fails.
 *
 * By default it asks the running server (which holds the log: the embedded
 * one in its data directory, or the JetStream stream whose address only it
 * knows), as `projections rebuild` does. With `--data DIR` or `--nats URL`
 * it opens the log itself, for when no server runs, or one cannot start
 * because its log does not decode.
 */
import { join } from "node:path";
import { logRef } from "../../events/subjects.js";
import { verifyLog, type LogVerification } from "../../events/storage/verify.js";
import { toJson } from "../../protocol/json.js";
import { CliError, clientOf } from "../client.js";
import { natsCredsFile, targetOf } from "../options.js";
import { LOG } from "../table.js";
import { parse, UsageError, usageOf } from "../usage.js";

export const run = async (argv: string[]): Promise<number> => {
  // Arguments, checked against the table (the one subcommand is verify).
  const parsed = parse(LOG, argv);
  const { values } = parsed;
  if (values.data !== undefined && values.nats !== undefined) throw new UsageError("give --data or --nats, not both", usageOf(LOG, "verify"));
  const t = targetOf(parsed);

  const natsCreds = values["nats-creds"] === undefined ? undefined : natsCredsFile(values["nats-creds"], values.nats);
  const r =
    values.data !== undefined || values.nats !== undefined ? await direct(t.project, t.env, values.data, values.nats, natsCreds) : await viaServer(t);
  const bad = r.failures.length > 0 || r.gaps.length > 0;
  if (values.json) console.log(toJson(r));
  else {
    for (const f of r.failures) console.log(`sequence ${f.seq}: ${f.reason}`);
    if (r.gaps.length) console.log(`missing sequences: ${r.gaps.join(", ")}`);
    const n = (k: number, what: string) => `${k} ${what}${k === 1 ? "" : "s"}`;
    const summary = `${t.project}/${t.env} (${r.log} log): ${n(r.commits, "commit")}, ${n(r.events, "event")} up to sequence ${r.lastSeq}`;
    if (bad) {
      console.error(
        `${summary}: ${n(r.failures.length, "commit")} that ${r.failures.length === 1 ? "does" : "do"} not decode${r.gaps.length ? `, ${r.gaps.length} missing` : ""}. ` +
          "Projections cannot be rebuilt past them: restore the log from a backup",
      );
    } else console.log(`${summary}: every commit decodes`);
  }
  return bad ? 1 : 0;
};

type Verified = LogVerification & { readonly log: string };

const viaServer = (t: ReturnType<typeof targetOf>): Promise<Verified> => clientOf(t).verifyLog();

const direct = async (project: string, env: string, data: string | undefined, nats: string | undefined, natsCreds: string | undefined): Promise<Verified> => {
  let ref;
  try {
    ref = logRef(project, env);
  } catch (e) {
    throw new CliError((e as Error).message, 1);
  }
  const { EmbeddedEventLog, JetStreamEventLog } = await import("../../events/storage/index.js");
  const log =
    nats !== undefined
      ? await JetStreamEventLog.connect({ servers: nats, ...(natsCreds === undefined ? {} : { creds: natsCreds }) })
      : new EmbeddedEventLog({ dir: join(data!, "log") });
  try {
    if (!(await log.hasEnv(ref))) throw new CliError(`no log for ${project}/${env} ${nats !== undefined ? `on ${nats.replace(/:[^:@/]*@/g, ":…@")}` : `in ${data}`}`, 1);
    return { log: log.kind, ...(await verifyLog(log, ref)) };
  } finally {
    await log.close();
  }
};
