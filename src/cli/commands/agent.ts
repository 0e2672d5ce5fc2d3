/** `tributary agent MODULE... [options]`: see AGENT in ../table.ts. */
import { resolve } from "node:path";
import { AgentRefusedError } from "../../agent/errors.js";
import { startAgent, type Agent } from "../../agent/runtime.js";
import { watchModules } from "../../agent/watch.js";
import { milliseconds, wholeNumber } from "../args.js";
import { CliError, CREDENTIALS_REFUSED, unauthenticatedHint, forbiddenHint } from "../client.js";
import { targetOf } from "../options.js";
import { AGENT } from "../table.js";
import { parse } from "../usage.js";

export const run = async (argv: string[]): Promise<number> => {
  // Arguments, checked against the table.
  const parsed = parse(AGENT, argv);
  const { values, positionals } = parsed;
  const t = targetOf(parsed);
  const tags: Record<string, string[]> = {};
  for (const kv of values.tag) {
    const m = /^([^=]+)=(.*)$/.exec(kv);
    if (!m) throw new CliError(`--tag takes key=value, got ${JSON.stringify(kv)}`, 1);
    (tags[m[1]!] ??= []).push(m[2]!);
  }
  const concurrency = wholeNumber("concurrency", values.concurrency, 1, 100_000);
  const workers = wholeNumber("workers", values.workers, 1, 1024);
  const maxAssetBytes = wholeNumber("max-asset-bytes", values["max-asset-bytes"], 1);
  const drainMs = milliseconds("drain-timeout", values["drain-timeout"]) ?? 5000;
  const idleExitMs = milliseconds("idle-exit", values["idle-exit"], 1);
  const agentId = values["agent-id"];
  if (agentId !== undefined && !/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/.test(agentId)) {
    throw new CliError(`--agent-id takes 1-64 letters, digits, '-' and '_', starting with a letter or digit, got ${JSON.stringify(agentId)}`, 1);
  }

  const agent = await startAgent({
    server: t.server,
    ...(t.ca === undefined ? {} : { ca: t.ca }),
    ...(t.token === undefined ? {} : { token: t.token }),
    project: t.project,
    env: t.env,
    tags,
    ...(agentId === undefined ? {} : { agentId }),
    modules: positionals.map((p) => resolve(p)),
    ...(concurrency ? { concurrency } : {}),
    ...(workers ? { workers } : {}),
    ...(maxAssetBytes ? { maxAssetBytes } : {}),
    ...(values["keep-workdirs"] ? { keepWorkdirs: true } : {}),
    ...(values["workdir-root"] ? { workdirRoot: resolve(values["workdir-root"]) } : {}),
  }).catch((e: unknown) => {
    // A module that does not load, or a server that refuses the agent: the message says what to do, no stack.
    const message = (e as Error).message;
    if (e instanceof AgentRefusedError) throw refusal(e);
    if (message.startsWith("cannot load module")) throw new CliError(message, 1);
    throw e;
  });
  console.error(`agent ${agent.agentId} connected to ${t.server} (${t.project}/${t.env})`);
  // Said once it is back after losing the server (the first connection is said above).
  let lost = false;
  agent.on("disconnected", () => (lost = true));
  agent.on("connected", () => {
    if (lost) console.error(`agent ${agent.agentId} connected again to ${t.server}`);
    lost = false;
  });
  const watcher = values.watch ? watchFor(agent, positionals.map((p) => resolve(p))) : undefined;
  // Until a signal, or the server refuses the agent's token on a reconnection (it stops by itself then).
  let idleTimer: NodeJS.Timeout | undefined;
  const refused = await new Promise<AgentRefusedError | undefined>((r) => {
    process.once("SIGINT", () => r(undefined));
    process.once("SIGTERM", () => r(undefined));
    agent.once("refused", (e: AgentRefusedError) => r(e));
    // --idle-exit: nothing run (nor accepted) for that long.
    if (idleExitMs !== undefined) {
      let idleSince = Date.now();
      agent.on("settled", () => (idleSince = Date.now()));
      idleTimer = setInterval(() => {
        if (agent.running().length > 0) idleSince = Date.now();
        else if (Date.now() - idleSince >= idleExitMs) {
          console.error(`idle for ${idleExitMs} ms: stopping`);
          r(undefined);
        }
      }, Math.min(1000, idleExitMs));
    }
  });
  clearInterval(idleTimer);
  watcher?.close();
  if (refused) {
    await agent.stop();
    throw refusal(refused);
  }
  // A second signal exits at once: what still runs is lost with the agent (the server retries it once it notices).
  const now = (code: number) => {
    const left = agent.running().length;
    console.error(`a second signal: exiting now${left ? `; ${left} execution${left === 1 ? "" : "s"} still running are left to the server, which retries them when it notices the agent gone` : ""}`);
    process.exit(code);
  };
  process.once("SIGINT", () => now(130));
  process.once("SIGTERM", () => now(143));
  const running = agent.running().length;
  console.error(
    running
      ? `draining: the server gives this agent nothing new; letting ${running} execution${running === 1 ? "" : "s"} finish (up to ${drainMs} ms, then what is left is given back to run elsewhere); a second signal exits at once`
      : "stopping",
  );
  let gaveBack = 0;
  agent.on("settled", (_id: string, m: { type: string; error?: { type: string } }) => {
    if (m.type === "failed" && m.error?.type === "AgentStopping") gaveBack++;
  });
  await agent.stop({ drainMs, abortLeft: true });
  console.error(gaveBack ? `stopped (${gaveBack} execution${gaveBack === 1 ? "" : "s"} given back to the server)` : "stopped");
  return 0;
};

/** The server's refusal as the CLI says it: credentials (401, 403) exit 4 with what to do; anything else exit 1. */
const refusal = (e: AgentRefusedError): CliError => {
  if (e.status === 401) return new CliError(unauthenticatedHint(e.message), CREDENTIALS_REFUSED);
  if (e.status === 403) return new CliError(forbiddenHint(e.message, "agent"), CREDENTIALS_REFUSED);
  return new CliError(e.message, 1);
};

/**
 * `--watch`: a change to the modules' files reloads them (one reload at a
 * time; changes during one make one more), saying so on stderr; modules
 * that do not load now leave the old code in place, and say why.
 */
const watchFor = (agent: Agent, modules: string[]) => {
  let reloading: Promise<void> | undefined;
  let again: string[] | undefined;
  const reload = (files: string[]): void => {
    if (reloading !== undefined) {
      again = [...(again ?? []), ...files];
      return;
    }
    const shown = files.length > 3 ? `${files.slice(0, 3).join(", ")} and ${files.length - 3} more` : files.join(", ");
    reloading = agent
      .reload()
      .then(
        (manifests) => console.error(`reloaded (${shown} changed): ${manifests.map((m) => `${m.repository} (${m.targets.length} targets)`).join(", ")}; running executions finish on the old code`),
        (e: unknown) => console.error(`reload failed, keeping the old code: ${(e as Error).message}`),
      )
      .finally(() => {
        reloading = undefined;
        const next = again;
        again = undefined;
        if (next !== undefined) reload(next);
      });
  };
  const watcher = watchModules(modules, reload);
  console.error(`watching ${watcher.dirs.join(", ")} for changes`);
  return watcher;
};
