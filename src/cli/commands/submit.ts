/** `tributary submit REPO:TARGET [options]`: see SUBMIT in ../table.ts. */
import { readFileSync } from "node:fs";
import { fromJson, toJson } from "../../protocol/json.js";
import type { RunHandle } from "../../client/run.js";
import { SubmitBody } from "../../protocol/http.js";
import { CliError, clientOf } from "../client.js";
import { targetOf } from "../options.js";
import { SUBMIT } from "../table.js";
import { parse } from "../usage.js";
import { printOutcome, waitForRun } from "../wait.js";

/** What the server takes as a target (`repository:target`), checked here first to say it in the CLI's words. */
const TARGET = new RegExp(SubmitBody.properties.target.pattern!);

export const run = async (argv: string[]): Promise<number> => {
  // Arguments, checked against the table; then each --arg read and parsed.
  const parsed = parse(SUBMIT, argv);
  const { values, positionals } = parsed;
  const t = targetOf(parsed);
  const target = positionals[0]!;
  if (!TARGET.test(target)) throw new CliError(`REPO:TARGET takes the workflow as repository:target, e.g. orders:process_orders; got ${JSON.stringify(target)}`, 1);
  const args = values.arg.map((given, i) => {
    // `@FILE` reads the argument's JSON from a file (or `@-` from stdin): values too large for a command line.
    let text = given;
    if (given.startsWith("@")) {
      const file = given.slice(1);
      try {
        text = readFileSync(file === "-" ? 0 : file, "utf8");
      } catch (e) {
        throw new CliError(`--arg number ${i + 1}: cannot read ${file === "-" ? "stdin" : file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, 1);
      }
    }
    try {
      return fromJson(text);
    } catch {
      const shown = text.length > 200 ? `${text.slice(0, 200)}… (${text.length} characters)` : text;
      throw new CliError(`--arg number ${i + 1} is not valid JSON: ${shown}`, 1);
    }
  });
  const key = values["idempotency-key"];
  if (key !== undefined && (key.length === 0 || key.length > 256)) {
    throw new CliError(`--idempotency-key takes 1 to 256 characters, got ${key.length}`, 1);
  }
  const submitted = await clientOf(t).submit(target, args, { ...(key !== undefined ? { idempotencyKey: key } : {}), ...(values.queue ? { queue: true } : {}) });
  if (submitted.warning && !values.json) console.error(`warning: ${submitted.warning}`);
  if (!values.wait) {
    if (!submitted.created && !values.json) console.error(`note: run ${submitted.runId} already existed (same idempotency key, target and arguments): nothing new was submitted`);
    console.log(values.json ? toJson(submitted) : submitted.runId);
    return 0;
  }
  if (!values.json) console.error(`run ${submitted.runId}${submitted.created ? "" : " (existing, same idempotency key)"}: waiting…`);
  const progress = !values.json && process.stderr.isTTY ? showProgress(submitted) : undefined;
  const outcome = await waitForRun(t, submitted.runId).finally(() => progress?.stop());
  return printOutcome(submitted.runId, outcome, values.json);
};

/** On a terminal: a line on stderr, redrawn twice a second, with the run's step counts. */
const showProgress = (run: RunHandle): { stop(): void } => {
  let stopped = false;
  const draw = async () => {
    while (!stopped) {
      await new Promise((r) => setTimeout(r, 500));
      if (stopped) break;
      const view = await run.view().catch(() => undefined);
      if (!view || stopped) continue;
      const count = (...s: string[]) => view.steps.filter((x) => s.includes(x.status)).length;
      process.stderr.write(
        `\r  ${view.steps.length} steps: ${count("succeeded", "reused")} done, ${count("running")} running, ` +
          `${count("pending")} pending, ${count("failed", "cancelled")} failed   `,
      );
    }
  };
  void draw();
  return {
    stop() {
      stopped = true;
      process.stderr.write("\n");
    },
  };
};
