import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { COMMANDS, COMMON } from "../../src/cli/table.js";
import { HelpRequested, parse, synopsisOf, UsageError, usageOf, type CommandSpec } from "../../src/cli/usage.js";
import { CLI_MD, withReference } from "../support/cli-docs.js";

const commands: CommandSpec[] = Object.values(COMMANDS);
const md = readFileSync(CLI_MD, "utf8");

/** The section of docs/cli.md about one command: from its `### \`tributary NAME` heading to the next heading. */
const sectionOf = (name: string): string => {
  const start = md.search(new RegExp(`^### \`tributary ${name}[ \`]`, "m"));
  if (start < 0) return "";
  const rest = md.slice(start + 4);
  const end = rest.search(/^##/m);
  return end < 0 ? rest : rest.slice(0, end);
};

/** What a thunk throws. */
const thrown = (f: () => unknown): unknown => {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error("expected a throw");
};

describe("the CLI's table", () => {
  it("names each command by its key, and each `in` names subcommands of its command", () => {
    for (const [key, c] of Object.entries(COMMANDS) as [string, CommandSpec][]) {
      expect(c.name).toBe(key);
      for (const [option, o] of Object.entries(c.options) as [string, { in?: readonly string[] }][]) {
        for (const sub of o.in ?? []) expect(Object.keys(c.subcommands ?? {}), `${key} --${option}`).toContain(sub);
      }
    }
  });

  it("makes the parser: an option of another subcommand, an unknown one, a missing or extra argument are usage errors with that usage", () => {
    const { RUNS, ENVS, AGENT } = { RUNS: COMMANDS.runs, ENVS: COMMANDS.envs, AGENT: COMMANDS.agent };
    const ok = parse(RUNS, ["rerun", "R1", "2", "--cascade"]);
    expect(ok).toMatchObject({ sub: "rerun", positionals: ["rerun", "R1", "2"], values: { cascade: true, wait: false, follow: false, limit: "50" } });
    for (const [argv, message, usage] of [
      [["ls", "--follow"], /^--follow is an option of runs logs, not of runs ls$/, usageOf(RUNS, "ls")],
      [["ls", "--frob"], /^--frob is not an option of runs ls$/, usageOf(RUNS, "ls")],
      [["ls", "--limit"], /^--limit takes N \(at most N runs, 1 to 10000\), got nothing$/, usageOf(RUNS, "ls")],
      [["ls", "--limit", "--json"], /^--limit takes N \(.*\), got the option "--json": give the value after --limit \(as --limit=… if it starts with "-"\)$/, usageOf(RUNS, "ls")],
      [["ls", "--json=1"], /^--json takes no value, got "--json=1"$/, usageOf(RUNS, "ls")],
      [["show"], /give RUN: a run id/, usageOf(RUNS, "show")],
      [["show", "R1", "R2"], /unexpected argument "R2"/, usageOf(RUNS, "show")],
      [["frob"], /unknown subcommand "frob"/, usageOf(RUNS)],
      [[], /give a subcommand: ls, show, wait, watch, history, logs, cancel, rerun/, usageOf(RUNS)],
    ] as const) {
      const e = thrown(() => parse(RUNS, argv));
      expect(e, argv.join(" ")).toBeInstanceOf(UsageError);
      expect((e as UsageError).message).toMatch(message);
      expect((e as UsageError).usage).toBe(usage);
      expect((e as UsageError).exitCode).toBe(1);
    }
    expect((thrown(() => parse(ENVS, ["branch", "dev"])) as UsageError).message).toBe("give --from ENV");
    expect((thrown(() => parse(AGENT, [])) as UsageError).message).toMatch(/^give MODULE: /);
    expect(parse(AGENT, ["a.ts", "b.ts", "--tag", "k=v", "--tag", "k=w"])).toMatchObject({ positionals: ["a.ts", "b.ts"], values: { tag: ["k=v", "k=w"] } });
    // A negative number is a value, not an option: the command's own check words what is wrong with it.
    expect(parse(RUNS, ["ls", "--limit", "-3"])).toMatchObject({ values: { limit: "-3" } });
    expect(parse(COMMANDS.submit, ["m:w", "--arg", "-5", "--arg", "-"])).toMatchObject({ values: { arg: ["-5", "-"] }, positionals: ["m:w"] });
    expect(parse(AGENT, ["a.ts", "--", "--odd.ts"])).toMatchObject({ positionals: ["a.ts", "--odd.ts"] });
  });

  it("answers --help and -h of every command and subcommand with its own usage", () => {
    for (const c of commands) {
      for (const help of ["--help", "-h"]) {
        const e = thrown(() => parse(c, [help]));
        expect(e, `${c.name} ${help}`).toBeInstanceOf(HelpRequested);
        expect((e as HelpRequested).usage).toBe(usageOf(c));
        for (const sub of Object.keys(c.subcommands ?? {})) {
          expect((thrown(() => parse(c, [sub, help])) as HelpRequested).usage).toBe(usageOf(c, sub));
        }
      }
    }
  });

  it("reads an absent option from its environment variable, then its default, and says where a value came from", () => {
    const saved = process.env.TRIBUTARY_ENV;
    try {
      process.env.TRIBUTARY_ENV = "staging";
      const fromEnv = parse(COMMANDS.runs, ["ls"]);
      expect(fromEnv.values.env).toBe("staging");
      expect(fromEnv.origin("env")).toBe("TRIBUTARY_ENV");
      const given = parse(COMMANDS.runs, ["ls", "--env", "dev"]);
      expect([given.values.env, given.origin("env")]).toEqual(["dev", "--env"]);
      delete process.env.TRIBUTARY_ENV;
      expect(parse(COMMANDS.runs, ["ls"]).values.env).toBe(COMMON.env.default);
    } finally {
      if (saved === undefined) delete process.env.TRIBUTARY_ENV;
      else process.env.TRIBUTARY_ENV = saved;
    }
  });

  it("lists in every usage each option the parser takes, and no other", () => {
    for (const c of commands) {
      for (const sub of [undefined, ...Object.keys(c.subcommands ?? {})]) {
        const shown = [...usageOf(c, sub).matchAll(/^ {2}(?:-\w, )?--([a-z-]+)/gm)].map((m) => m[1]);
        const taken = Object.entries(c.options as Record<string, { in?: readonly string[] }>)
          .filter(([, o]) => sub === undefined || !o.in || o.in.includes(sub))
          .map(([n]) => n);
        expect(shown, `${c.name} ${sub ?? ""}`).toEqual([...taken, "help"]);
      }
    }
  });
});

describe("docs/cli.md, checked against the table", () => {
  it("has one section per command, in the table's order", () => {
    const headings = [...md.matchAll(/^### `tributary (\S+?)[ `]/gm)].map((m) => m[1]);
    expect(headings).toEqual(commands.map((c) => c.name));
  });

  it("names every subcommand, with its arguments, in its command's section", () => {
    for (const c of commands) {
      for (const sub of Object.keys(c.subcommands ?? {})) expect(sectionOf(c.name), `${c.name} ${sub}`).toContain(`\`${synopsisOf(c, sub)}`);
    }
  });

  it("describes every option of a command in its section (the common ones at the top), and none it does not take", () => {
    const top = md.slice(0, md.indexOf("## Commands"));
    for (const name of Object.keys(COMMON)) expect(top).toContain(`--${name}`);
    for (const c of commands) {
      const section = sectionOf(c.name);
      const mentioned = new Set([...section.matchAll(/--([a-z][a-z-]*)/g)].map((m) => m[1]!));
      const own = Object.keys(c.options).filter((n) => !(n in COMMON));
      for (const option of own) expect(mentioned, `${c.name} --${option}`).toContain(option);
      for (const option of mentioned) expect([...Object.keys(c.options), "help"], `${c.name} --${option}`).toContain(option);
    }
  });

  it("ends with the usage of every command as the table makes it (npm run docs:cli regenerates it)", () => {
    expect(md).toContain("$ tributary runs --help");
    expect(withReference(md) === md, "docs/cli.md's reference is out of date: run npm run docs:cli").toBe(true);
  });
});
