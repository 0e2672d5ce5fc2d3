/**
 * `tributary`: the command line. Parses the command word, then loads the
 * one file that implements it. Data goes to stdout, diagnostics to stderr.
 *
 * Exit codes: 0 ok; 1 refused or bad usage; 2 fault (no server, server
 * error); 3 the awaited run failed; 4 credentials refused (401, 403).
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { cliErrorOf } from "./client.js";
import { COMMANDS as TABLE, COMMON, EPILOGUE, type CommandName } from "./table.js";
import { criticalWriteUnderWay } from "./stdout.js";
import { HelpRequested, programUsage, UsageError } from "./usage.js";

const COMMANDS: Record<CommandName, () => Promise<{ run(argv: string[]): Promise<number | void> }>> = {
  server: () => import("./commands/server.js"),
  agent: () => import("./commands/agent.js"),
  submit: () => import("./commands/submit.js"),
  runs: () => import("./commands/runs.js"),
  envs: () => import("./commands/envs.js"),
  projects: () => import("./commands/projects.js"),
  projections: () => import("./commands/projections.js"),
  log: () => import("./commands/log.js"),
  assets: () => import("./commands/assets.js"),
  inputs: () => import("./commands/inputs.js"),
  tokens: () => import("./commands/tokens.js"),
  whoami: () => import("./commands/whoami.js"),
  demo: () => import("./commands/demo.js"),
  pools: () => import("./commands/pools.js"),
};

const LOG_FAULTS = new Set(["CorruptEvent", "LogUnavailable", "LogNotFound", "LogClosed", "InvalidCommit", "InvalidEvent", "WrongExpectedSequence"]);

/** `tributary --help`: every command, from the table. */
export const USAGE = programUsage(Object.values(TABLE), COMMON, EPILOGUE);

const isCommand = (name: string): name is CommandName => Object.hasOwn(COMMANDS, name);

/**
 * A reader that stops early (`| head`) closes the pipe: that ends the
 * command quietly, as it does for other tools; but not a write that must not
 * be lost (a token's text, ./stdout.ts): its writer says so.
 */
const quietOnClosedPipe = (stream: NodeJS.WriteStream): void => {
  stream.on("error", (e: NodeJS.ErrnoException) => {
    if (criticalWriteUnderWay()) return;
    if (e.code === "EPIPE") process.exit(0);
    throw e;
  });
};

/**
 * The version of the package this file is part of: the `package.json` named
 * `tributary` above it (`../../` of the sources in a clone, `../../../` of
 * the build in an installed package).
 */
const packageVersion = (): string => {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name?: unknown; version?: unknown };
      if (pkg.name === "tributary" && typeof pkg.version === "string") return pkg.version;
    } catch {
      // No package.json here (or not one to read): look further up.
    }
    if (dirname(dir) === dir) throw new Error(`no package.json of tributary above ${fileURLToPath(import.meta.url)}`);
  }
};

export const main = async (argv: string[]): Promise<number> => {
  quietOnClosedPipe(process.stdout);
  const [name, ...rest] = argv;
  if (name === "--version") {
    console.log(packageVersion());
    return 0;
  }
  if (!name || name === "help" || name === "--help" || name === "-h") {
    // `tributary help runs` is `tributary runs --help`.
    const about = name === "help" ? rest[0] : undefined;
    if (about !== undefined && isCommand(about)) return main([about, ...rest.slice(1), "--help"]);
    console.log(USAGE);
    return name ? 0 : 1;
  }
  if (!isCommand(name)) {
    console.error(`tributary: unknown command ${JSON.stringify(name)}\n\n${USAGE}`);
    return 1;
  }
  try {
    return (await (await COMMANDS[name]()).run(rest)) ?? 0;
  } catch (e) {
    if (e instanceof HelpRequested) {
      console.log(e.usage);
      return 0;
    }
    if (e instanceof UsageError) {
      console.error(`tributary ${name}: ${e.message}\n\n${e.usage}`);
      return 1;
    }
    const refused = cliErrorOf(e);
    if (refused) {
      console.error(`tributary ${name}: ${refused.message}`);
      return refused.exitCode;
    }
    // The log's own faults say what happened and what to do; anything else is a bug, and its stack helps.
    const known = e instanceof Error && LOG_FAULTS.has(e.name);
    console.error(`tributary ${name}: ${known ? (e as Error).message : ((e as Error).stack ?? String(e))}`);
    return 2;
  }
};
