/**
 * `tributary`: the command line. Parses the command word, then loads the
 * one file that implements it. Data goes to stdout, diagnostics to stderr.
 *
 * Exit codes: 0 ok; 1 refused or bad usage; 2 fault (no server, server
 * error); 3 the awaited run failed.
 */
import { cliErrorOf } from "./client.js";

const COMMANDS: Record<string, () => Promise<{ run(argv: string[]): Promise<number | void> }>> = {
  server: () => import("./commands/server.js"),
  agent: () => import("./commands/agent.js"),
  submit: () => import("./commands/submit.js"),
  runs: () => import("./commands/runs.js"),
  envs: () => import("./commands/envs.js"),
  projections: () => import("./commands/projections.js"),
  log: () => import("./commands/log.js"),
  assets: () => import("./commands/assets.js"),
  demo: () => import("./commands/demo.js"),
};

const LOG_FAULTS = new Set(["CorruptEvent", "LogUnavailable", "LogNotFound", "LogClosed", "InvalidCommit", "InvalidEvent", "WrongExpectedSequence"]);

export const USAGE = `usage: tributary <command> [options]

commands:
  server       [--data DIR] [--nats URL] [--port N] [--host H]   run the server
  agent        --server URL [--project P] [--env E] [--tag k=v]... [--concurrency N] MODULE...
  submit       REPO:TARGET [--arg JSON]... [--idempotency-key K] [--wait]
  runs         ls | show RUN | wait RUN | history RUN | logs RUN [--follow] | cancel RUN
               | rerun RUN STEP [--cascade] [--wait]
  envs         ls | create NAME [--base ENV]
  projections  rebuild | dump
  log          verify   decode every commit of the environment's log; exit 1 if any fails
  assets       ls [--run RUN] | show ASSET | download ASSET [--to DIR]
  demo         start a server and an agent, run the example workflow, print it

common options: --server URL (TRIBUTARY_SERVER, default http://127.0.0.1:7777)
                --project P (TRIBUTARY_PROJECT, default "default")
                --env E (TRIBUTARY_ENV, default "production")
                --json  machine-readable output
exit codes: 0 ok, 1 refused or bad usage, 2 fault, 3 the awaited run failed`;

/** A reader that stops early (`| head`) closes the pipe: that ends the command quietly, as it does for other tools. */
const quietOnClosedPipe = (stream: NodeJS.WriteStream): void => {
  stream.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(0);
    throw e;
  });
};

export const main = async (argv: string[]): Promise<number> => {
  quietOnClosedPipe(process.stdout);
  const [name, ...rest] = argv;
  if (!name || name === "help" || name === "--help" || name === "-h") {
    console.log(USAGE);
    return name ? 0 : 1;
  }
  const load = COMMANDS[name];
  if (!load) {
    console.error(`tributary: unknown command ${JSON.stringify(name)}\n\n${USAGE}`);
    return 1;
  }
  try {
    return (await (await load()).run(rest)) ?? 0;
  } catch (e) {
    const refused = cliErrorOf(e);
    if (refused) {
      console.error(`tributary ${name}: ${refused.message}`);
      return refused.exitCode;
    }
    if (e instanceof TypeError && "code" in e && String(e.code).startsWith("ERR_PARSE_ARGS")) {
      console.error(`tributary ${name}: ${e.message}\n\n${USAGE}`);
      return 1;
    }
    // The log's own faults say what happened and what to do; anything else is a bug, and its stack helps.
    const known = e instanceof Error && LOG_FAULTS.has(e.name);
    console.error(`tributary ${name}: ${known ? (e as Error).message : ((e as Error).stack ?? String(e))}`);
    return 2;
  }
};
