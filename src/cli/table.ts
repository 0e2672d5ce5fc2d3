/**
 * The table of `tributary`'s commands: one entry per command, from which its
 * parser and its `--help` are made (`./usage.ts`), and against which
 * docs/cli.md is checked (test/unit/cli-table.unit.spec.ts). Pure data: the
 * entry point loads it without loading any command.
 */
import type { CommandSpec } from "./usage.js";

/** The server a command talks to, how: the CA to trust, the token to send. */
const CONNECTION = {
  server: {
    type: "string",
    value: "URL",
    env: "TRIBUTARY_SERVER",
    default: "http://127.0.0.1:7777",
    description: "the server's http:// or https:// URL",
  },
  ca: {
    type: "string",
    value: "FILE",
    env: "TRIBUTARY_CA",
    absent: "the system's CAs",
    description: "for https://: the PEM certificate of the CA to trust (the server's own if self-signed)",
  },
  token: {
    type: "string",
    value: "TOKEN",
    env: "TRIBUTARY_TOKEN",
    absent: "none",
    description: "the access token to send (a server started with --auth requires one; see tokens create)",
  },
} as const;

const PROJECT = { type: "string", value: "P", env: "TRIBUTARY_PROJECT", default: "default", description: "the project" } as const;

/** The server, project and environment a command acts on. */
const TARGET = {
  ...CONNECTION,
  project: PROJECT,
  env: { type: "string", value: "E", env: "TRIBUTARY_ENV", default: "production", description: "the environment" },
} as const;

/** The options of every command that reads or acts on an environment. */
export const COMMON = { ...TARGET, json: { type: "boolean", description: "machine-readable output" } } as const;

const RUN = { name: "RUN", description: "a run id, as submit and runs ls print it" } as const;

export const SERVER = {
  name: "server",
  summary: "run the server until SIGINT or SIGTERM",
  description:
    "Runs the server until SIGINT or SIGTERM (a second signal exits at once). The event log is embedded\n" +
    "under --data unless --nats names a NATS server with JetStream.",
  options: {
    data: {
      type: "string",
      value: "DIR",
      env: "TRIBUTARY_DATA",
      default: ".tributary",
      description: "the data directory: the embedded log, projections, task logs, the lock",
    },
    nats: {
      type: "string",
      value: "URL",
      description: "NATS servers with JetStream (nats://host:port, comma-separated; nats://user:password@host:port to log in) that hold the log",
    },
    "nats-creds": { type: "string", value: "FILE", description: "a NATS .creds file (user JWT and NKey seed) to log in to --nats with" },
    "tls-cert": { type: "string", value: "FILE", description: "serve HTTPS and WSS with this PEM certificate (chain); needs --tls-key" },
    "tls-key": { type: "string", value: "FILE", description: "the PEM private key of --tls-cert; needs --tls-cert" },
    port: { type: "string", value: "N", default: "7777", description: "the HTTP port, 0 to 65535 (0: any free port)" },
    host: { type: "string", value: "H", absent: "127.0.0.1", description: "the address to listen on (not a loopback one: needs --auth, or --insecure)" },
    auth: {
      type: "boolean",
      description:
        "check a token on every request but /api/health and on every agent connection; the admin token is TRIBUTARY_ADMIN_TOKEN, or <data>/admin-token, made (mode 0600) and shown on the first start",
    },
    insecure: { type: "boolean", description: "listen on a --host beyond this machine without --auth, although anyone who reaches it may do anything (warned on every start)" },
    "heartbeat-ms": { type: "string", value: "N", absent: "2000", description: "how often agents send a heartbeat, ms" },
    "restart-grace-ms": {
      type: "string",
      value: "N",
      absent: "2000 plus two heartbeats",
      description: "after a start, how long agents have to come back before their executions count as lost, ms",
    },
    project: {
      type: "string",
      value: "P",
      env: "TRIBUTARY_PROJECT",
      default: "default",
      description: "the project that exists from the start (with the environment production)",
    },
    "max-blob-bytes": { type: "string", value: "N", absent: "8 GiB", description: "the largest blob (one file of an asset), bytes" },
    "max-asset-bytes": { type: "string", value: "N", absent: "8 GiB", description: "the largest asset (all its files), bytes" },
  },
} as const satisfies CommandSpec;

export const AGENT = {
  name: "agent",
  summary: "host the workflows and tasks of modules, and run them for the server",
  description:
    "Loads the modules, registers their workflows and tasks with the server, and runs executions on its\n" +
    "command until SIGINT or SIGTERM. It reconnects by itself when the server restarts.\n" +
    "On SIGINT or SIGTERM it drains: it takes nothing new, lets what runs finish (up to --drain-timeout),\n" +
    "then aborts what is left and gives it back to the server to run elsewhere; a second signal exits at once\n" +
    "(code 130 / 143; what still ran is then lost with the agent, and retried once the server notices).",
  args: [{ name: "MODULE...", description: "modules of workflows and tasks (TypeScript or JavaScript), e.g. examples/orders.ts" }],
  options: {
    tag: { type: "string", value: "k=v", multiple: true, description: "a tag, as targets' requires match them" },
    concurrency: { type: "string", value: "N", absent: "16", description: "at most N executions at once" },
    workers: { type: "string", value: "N", absent: "2", description: "the worker threads that run them" },
    "max-asset-bytes": { type: "string", value: "N", absent: "8 GiB", description: "the most bytes one persist() may hold" },
    "keep-workdirs": { type: "boolean", description: "keep each execution's working directory" },
    "workdir-root": { type: "string", value: "DIR", absent: "a directory under the system's temp dir", description: "where working directories go" },
    watch: {
      type: "boolean",
      description: "reload the modules when their files (or source files beside or below them) change; what runs finishes on the old code",
    },
    "agent-id": { type: "string", value: "ID", description: "connect as this id (a pool's agents are given theirs)" },
    "idle-exit": { type: "string", value: "MS|Ns", description: "stop (exit 0) after this long with nothing to run (a pool's agents are given it)" },
    "drain-timeout": {
      type: "string",
      value: "MS|Ns",
      absent: "5s",
      description: "on SIGTERM or SIGINT, how long running executions have to finish; then what is left is aborted and given back (the server runs it again elsewhere, counted against no retry limit)",
    },
    ...TARGET,
  },
} as const satisfies CommandSpec;

export const SUBMIT = {
  name: "submit",
  summary: "start a run of a workflow and print its id (with --wait: its result)",
  args: [{ name: "REPO:TARGET", description: "the workflow, as REPOSITORY:TARGET, e.g. orders:process_orders" }],
  options: {
    arg: {
      type: "string",
      value: "JSON",
      multiple: true,
      description: "one argument, as JSON; @FILE reads it from a file, @- from stdin",
    },
    "idempotency-key": { type: "string", value: "K", description: "1 to 256 characters; the same key again returns the run it made first" },
    wait: { type: "boolean", description: "wait for the run and print its result (exit 3 if it did not succeed)" },
    queue: { type: "boolean", description: "accept the run even if no agent has registered the target yet: it waits for one" },
    ...COMMON,
  },
} as const satisfies CommandSpec;

export const RUNS = {
  name: "runs",
  summary: "list, show, watch, wait for, cancel and re-run runs",
  description: "The runs of an environment.",
  subcommands: {
    ls: { summary: "runs, newest first" },
    show: { summary: "the tree of the run's steps: status, attempts, duration, agent, result or error (now, or --at a point of the log)", args: [RUN] },
    wait: { summary: "wait for the run and print its result (exit 3 if it did not succeed)", args: [RUN] },
    watch: {
      summary: "the run's tree, live until it ends: each step's status, progress and latest metrics (plain lines when not a terminal; exit 3 if it did not succeed)",
      args: [RUN],
    },
    history: { summary: "every event of the run, in log order", args: [RUN] },
    logs: { summary: "the lines the run's tasks logged", args: [RUN] },
    cancel: { summary: "cancel the run, what is in flight under it, and the runs it spawned", args: [RUN] },
    rerun: {
      summary: "a new execution of a finished step, with the code the environment's agents host now",
      args: [RUN, { name: "STEP", description: "a step id of the run, as runs show prints it" }],
    },
    diff: {
      summary: "two runs compared step by step, matched by place in the call tree: same, result, code or arguments changed, only in one",
      args: [RUN, { name: "[B]", description: "the other run (default: RUN, e.g. as re-run in the environment of --b-env)" }],
    },
  },
  options: {
    limit: { type: "string", value: "N", default: "50", in: ["ls"], description: "at most N runs, 1 to 10000" },
    since: { type: "string", value: "ISO", in: ["ls"], description: "runs submitted at or after this time (2026-12-01 or 2026-12-01T10:00:00Z)" },
    until: { type: "string", value: "ISO", in: ["ls"], description: "runs submitted before this time" },
    status: { type: "string", value: "S", in: ["ls"], description: "runs of this status: running, succeeded, failed or cancelled" },
    target: { type: "string", value: "REPO:TARGET", in: ["ls"], description: "runs of this target" },
    at: { type: "string", value: "SEQ", in: ["show"], absent: "now", description: "the run as it stood at this log sequence (runs history prints them)" },
    "at-time": { type: "string", value: "ISO", in: ["show"], description: "the run as it stood at this time (its last commit at or before it)" },
    follow: { type: "boolean", in: ["logs"], description: "wait for more lines until the run finishes" },
    cascade: { type: "boolean", in: ["rerun"], description: "re-run the step's callers too, one after another up to the root" },
    wait: { type: "boolean", in: ["rerun"], description: "wait for the new result (with --cascade: the root's) and print it" },
    "b-env": { type: "string", value: "ENV", in: ["diff"], description: "the environment of run B (default: --env's)" },
    ...COMMON,
  },
} as const satisfies CommandSpec;

const ENV_NAME = { name: "NAME", description: "the environment's name" } as const;

export const ENVS = {
  name: "envs",
  summary: "list, create, rebase, archive, branch, pause and resume environments",
  description: "The environments of a project.",
  subcommands: {
    ls: { summary: "the project's environments as a tree (bases and branches), with their log lengths" },
    create: { summary: "a new environment; with --base, its cache look-ups that miss fall through to the base", args: [ENV_NAME] },
    update: { summary: "change the environment's base (give --base ENV or --no-base)", args: [ENV_NAME] },
    archive: { summary: "the environment refuses new runs, and to be a base, from then on", args: [ENV_NAME] },
    branch: { summary: "a new environment whose inherited view is another's log up to a sequence, frozen", args: [ENV_NAME] },
    pause: { summary: "nothing new is assigned to the environment's agents until it is resumed (runs may still be submitted: they wait)", args: [ENV_NAME] },
    resume: { summary: "the environment's queued executions are assigned again", args: [ENV_NAME] },
  },
  options: {
    base: { type: "string", value: "ENV", in: ["create", "update"], description: "the base environment" },
    "no-base": { type: "boolean", in: ["update"], description: "remove the base" },
    from: { type: "string", value: "ENV", in: ["branch"], required: true, description: "the environment to branch from" },
    at: { type: "string", value: "SEQ", in: ["branch"], absent: "its last sequence", description: "the log sequence to branch at" },
    "at-time": { type: "string", value: "ISO", in: ["branch"], description: "branch at the last commit at or before this time" },
    reason: { type: "string", value: "R", in: ["pause"], description: "why, kept with the pause" },
    ...COMMON,
  },
} as const satisfies CommandSpec;

export const POOLS = {
  name: "pools",
  summary: "create, list and delete pools: agents the server starts when executions only they can run wait",
  description:
    "A pool's agents are `tributary agent` processes the server starts on its own machine (launcher process),\n" +
    "with the pool's modules and tags (and pool=NAME), up to --max at once, when executions that no connected\n" +
    "agent can run are queued; each stops once idle for a while. Their output goes to\n" +
    "<data>/pool-logs/<project>/<env>/<pool>/<agent>.log on the server's machine ('pools ls' says where).",
  subcommands: {
    create: {
      summary: "a new pool (the same again changes nothing; another of the same name is refused)",
      args: [
        { name: "NAME", description: "the pool's name: 1 to 40 lower-case letters, digits and -" },
        { name: "[MODULE...]", description: "more modules, after --modules" },
      ],
    },
    ls: { summary: "the environment's pools, their agents now, and where their output goes" },
    delete: { summary: "delete a pool: its agents are told to stop (they drain), and no more are started", args: [{ name: "NAME", description: "the pool's name" }] },
  },
  options: {
    launcher: { type: "string", value: "KIND", in: ["create"], required: true, description: "how its agents are started: process (processes on the server's machine)" },
    modules: {
      type: "string",
      value: "FILE",
      multiple: true,
      in: ["create"],
      description: "a module its agents host (resolved here to an absolute path, which must be a file on the server's machine)",
    },
    max: { type: "string", value: "N", in: ["create"], absent: "1", description: "at most N of its agents at once" },
    tag: { type: "string", value: "k=v", multiple: true, in: ["create"], description: "a tag of its agents, as targets' requires match them" },
    ...COMMON,
  },
} as const satisfies CommandSpec;

export const PROJECTIONS = {
  name: "projections",
  summary: "rebuild or dump an environment's projections",
  subcommands: {
    rebuild: { summary: "drop the environment's projections and replay its log" },
    dump: { summary: "every projection document, sorted, one line each" },
  },
  options: COMMON,
} as const satisfies CommandSpec;

export const LOG = {
  name: "log",
  summary: "check an environment's log",
  subcommands: {
    verify: { summary: "decode every commit of the environment's log and list those that fail; exit 1 if any fails" },
  },
  options: {
    data: { type: "string", value: "DIR", description: "open the embedded log of this data directory instead of asking the server" },
    nats: { type: "string", value: "URL", description: "open the log on these NATS servers instead of asking the server" },
    "nats-creds": { type: "string", value: "FILE", description: "a NATS .creds file to log in to --nats with" },
    ...COMMON,
  },
} as const satisfies CommandSpec;

const ASSET = { name: "ASSET", description: "an asset id, as assets ls prints it" } as const;

export const ASSETS = {
  name: "assets",
  summary: "list, show and download the assets tasks persisted",
  subcommands: {
    ls: { summary: "the assets persisted in the environment (or by one run)" },
    show: { summary: "an asset's files, metadata, where it was persisted, how often restored", args: [ASSET] },
    download: { summary: "stream the asset's files into a directory, checking every size and sha256", args: [ASSET] },
  },
  options: {
    run: { type: "string", value: "RUN", in: ["ls"], description: "only the assets of this run" },
    to: { type: "string", value: "DIR", in: ["download"], absent: "a directory named after the asset", description: "where the files go" },
    ...COMMON,
  },
} as const satisfies CommandSpec;

const INPUT_ID = { name: "ID", description: "an input id, as inputs ls prints it" } as const;

export const INPUTS = {
  name: "inputs",
  summary: "list, show and answer the inputs that prompts ask for",
  description: "A workflow's prompt({ title, schema }) waits, suspended, for a person: answer it with a JSON value that fits its schema.",
  subcommands: {
    ls: { summary: "the inputs asked in the environment: pending ones first, newest first" },
    show: { summary: "an input's title, JSON Schema, the call that asked it, and its answer if any", args: [INPUT_ID] },
    answer: { summary: "answer a pending input (checked against its schema): the execution that asked resumes", args: [INPUT_ID] },
  },
  options: {
    pending: { type: "boolean", in: ["ls"], description: "only the inputs not answered yet" },
    run: { type: "string", value: "RUN", in: ["ls"], description: "only the inputs of this run" },
    value: { type: "string", value: "JSON", in: ["answer"], required: true, description: "the answer, as JSON (e.g. '{\"ok\": true}')" },
    ...COMMON,
  },
} as const satisfies CommandSpec;

const TOKEN_ID = { name: "ID", description: "a token id, as tokens create and tokens ls print it" } as const;

export const TOKENS = {
  name: "tokens",
  summary: "create, list and revoke a project's access tokens",
  description:
    "The access tokens of a project, for a server that checks credentials (started with --auth). Managing them\n" +
    "takes the server's admin token, or a token of role admin of the project (within its own environments and expiry).",
  subcommands: {
    create: { summary: "a new token: its text alone on stdout (T=$(tributary tokens create ...)), shown this once; its id and scope on stderr" },
    ls: { summary: "the project's tokens: id, name, role, environments, created, expires, by whom, revoked (never their secrets)" },
    revoke: { summary: "the token is refused from now on, on every route; its agents' sessions end (the tokens it made stay)", args: [TOKEN_ID] },
  },
  options: {
    role: { type: "string", value: "ROLE", in: ["create"], required: true, description: "read | submit | agent | admin" },
    envs: {
      type: "string",
      value: "PATTERN[,PATTERN]",
      in: ["create"],
      absent: "every environment (*); made by a token, its own",
      description: "the environments it covers: a name (dev: that one only) or a prefix ending in * (dev-*), comma-separated",
    },
    expires: { type: "string", value: "DURATION", in: ["create"], absent: "never; made by a token, when it does", description: "it expires this long after its creation: 90s, 30m, 12h, 30d" },
    name: { type: "string", value: "N", in: ["create"], description: "what it is for, 1 to 128 characters (tokens ls shows it)" },
    reason: { type: "string", value: "R", in: ["revoke"], description: "why, kept with the revocation" },
    ...CONNECTION,
    project: PROJECT,
    json: { type: "boolean", description: "machine-readable output" },
  },
} as const satisfies CommandSpec;

export const WHOAMI = {
  name: "whoami",
  summary: "whether the server checks credentials, and who the token given makes you (its scope)",
  options: { ...CONNECTION, json: { type: "boolean", description: "machine-readable output" } },
} as const satisfies CommandSpec;

export const PROJECTS = {
  name: "projects",
  summary: "list the server's projects",
  subcommands: {
    ls: { summary: "the projects, with how many environments each has (a token: its own project only)" },
  },
  options: { ...CONNECTION, json: { type: "boolean", description: "machine-readable output" } },
} as const satisfies CommandSpec;

export const DEMO = {
  name: "demo",
  summary: "start a server and an agent in one process, run the example workflow, print it",
  bare: true,
  subcommands: {
    environments: { summary: "the walk-through of docs/environments.md: a run, a branch, changed code, a re-run in the branch" },
  },
  options: {
    data: {
      type: "string",
      value: "DIR",
      absent: "tributary-demo under the OS's temp directory, replaced at each demo",
      description: "the server's data directory, kept after the demo (so that 'tributary server --data DIR' serves its run in Studio)",
    },
    nats: { type: "string", value: "URL", description: "NATS servers with JetStream for the log" },
    serve: { type: "boolean", description: "keep the demo's server (and agent) up after the run, Studio on --port, until SIGINT or SIGTERM" },
    port: { type: "string", value: "N", default: "7777", description: "the port of Studio's address: the one --serve listens on, else the one printed for 'tributary server'" },
  },
} as const satisfies CommandSpec;

/** Every command, in the order `tributary --help` lists them. */
export const COMMANDS = {
  server: SERVER,
  agent: AGENT,
  submit: SUBMIT,
  runs: RUNS,
  envs: ENVS,
  projects: PROJECTS,
  assets: ASSETS,
  inputs: INPUTS,
  projections: PROJECTIONS,
  log: LOG,
  tokens: TOKENS,
  whoami: WHOAMI,
  demo: DEMO,
  pools: POOLS,
} as const;

export type CommandName = keyof typeof COMMANDS;

/** Said under the list of commands. */
export const EPILOGUE = [
  "'tributary <command> --help' shows the usage of a command, 'tributary <command> <subcommand> --help' of a subcommand;",
  "'tributary --version' prints the version.",
  "exit codes: 0 ok, 1 refused or bad usage, 2 fault, 3 the awaited run failed, 4 credentials refused (a --token the CLI refuses; no or a bad token: 401; not in its scope: 403)",
] as const;
