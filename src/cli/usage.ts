/**
 * Commands as data: each command of `tributary` is one table (its options
 * with type, default and description, its arguments, its subcommands), from
 * which both the `node:util` `parseArgs` configuration and the usage text
 * are made, so that the two cannot drift. The tables are `./table.ts`.
 *
 * `parse(spec, argv)` checks argv against the table: an unknown option, a
 * missing or extra argument, an unknown subcommand are a `UsageError` (exit
 * 1, with the usage on stderr); `--help` / `-h` is `HelpRequested` (the usage
 * on stdout, exit 0).
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { CliError } from "./client.js";

/** One option. */
export interface OptionSpec {
  readonly type: "string" | "boolean";
  /** Repeatable: the value is the list of every occurrence. */
  readonly multiple?: boolean;
  /** The one-letter alias, without the dash. */
  readonly short?: string;
  /** The value's placeholder in the usage (`--port N`). */
  readonly value?: string;
  readonly description: string;
  /** The environment variable read when the option is absent. */
  readonly env?: string;
  /** The value when the option (and its `env` variable) is absent, applied by the parser. */
  readonly default?: string;
  /** What applies when the option is absent, when it is decided further in (the server's or the agent's own default): for the usage only. */
  readonly absent?: string;
  /** Required (with the subcommands of `in`, when they are given). */
  readonly required?: boolean;
  /** Only these subcommands take the option; absent: all of them. */
  readonly in?: readonly string[];
}

/** An argument: `NAME` (required), `[NAME]` (optional) or `NAME...` (one or more). */
export interface ArgSpec {
  readonly name: string;
  readonly description: string;
}

export interface SubcommandSpec {
  readonly summary: string;
  readonly args?: readonly ArgSpec[];
}

export interface CommandSpec {
  readonly name: string;
  /** One line, for the list of commands. */
  readonly summary: string;
  /** Said after the usage line of the command's `--help`. */
  readonly description?: string;
  readonly args?: readonly ArgSpec[];
  readonly options: { readonly [name: string]: OptionSpec };
  /** The first argument names one of these. */
  readonly subcommands?: { readonly [name: string]: SubcommandSpec };
  /** With subcommands: the command also runs without one. */
  readonly bare?: boolean;
}

type OptionValue<S extends OptionSpec> = S["type"] extends "boolean" ? boolean : string;

/**
 * The values of a command's options: booleans are `false` and repeatable
 * options `[]` when absent; a string option with a `default` is always set.
 */
export type Values<O extends CommandSpec["options"]> = {
  -readonly [K in keyof O]: O[K] extends { readonly multiple: true }
    ? OptionValue<O[K]>[]
    : O[K] extends { readonly type: "boolean" } | { readonly default: string }
      ? OptionValue<O[K]>
      : OptionValue<O[K]> | undefined;
};

export interface Parsed<C extends CommandSpec> {
  /** The subcommand given (its word is `positionals[0]` too). */
  readonly sub: (C["subcommands"] extends object ? keyof C["subcommands"] & string : never) | undefined;
  readonly values: Values<C["options"]>;
  /** Every argument that is not an option, the subcommand's word first. */
  readonly positionals: string[];
  /** Where an option's value came from, for messages: `--name` when given or defaulted, else its environment variable. */
  origin(option: keyof C["options"] & string): string;
}

/** Bad usage: exit 1, the message and the command's usage on stderr. */
export class UsageError extends CliError {
  override readonly name = "UsageError";
  constructor(
    message: string,
    readonly usage: string,
  ) {
    super(message, 1);
  }
}

/** `--help` or `-h`: the usage on stdout, exit 0. */
export class HelpRequested extends Error {
  override readonly name = "HelpRequested";
  constructor(readonly usage: string) {
    super("help requested");
  }
}

const HELP_OPTION: OptionSpec = { type: "boolean", short: "h", description: "show this usage" };

const isParseArgsError = (e: unknown): e is Error => e instanceof TypeError && "code" in e && String(e.code).startsWith("ERR_PARSE_ARGS");

/** The options a subcommand takes (all of the command's, without one). */
const optionsOf = (spec: CommandSpec, sub: string | undefined): [string, OptionSpec][] =>
  Object.entries(spec.options).filter(([, o]) => sub === undefined || o.in === undefined || o.in.includes(sub));

/** The `parseArgs` configuration of these options, `--help` included. */
const configOf = (options: [string, OptionSpec][]): NonNullable<ParseArgsConfig["options"]> =>
  Object.fromEntries(
    [...options, ["help", HELP_OPTION] as const].map(([name, o]) => [
      name,
      { type: o.type, ...(o.multiple ? { multiple: true } : {}), ...(o.short ? { short: o.short } : {}) },
    ]),
  );

const parseWith = (argv: readonly string[], options: [string, OptionSpec][], usage: () => string) => {
  try {
    return parseArgs({ args: [...argv], options: configOf(options), allowPositionals: true, strict: true });
  } catch (e) {
    if (isParseArgsError(e)) throw new UsageError(e.message, usage());
    throw e;
  }
};

/** Checks argv against the command's table; see the module's comment. */
export const parse = <C extends CommandSpec>(spec: C, argv: readonly string[]): Parsed<C> => {
  // First with every option of the command, to find the subcommand; then with that subcommand's options only.
  const first = parseWith(argv, optionsOf(spec, undefined), () => usageOf(spec));
  let sub: string | undefined;
  if (spec.subcommands) {
    const word = first.positionals[0];
    if (word !== undefined && Object.hasOwn(spec.subcommands, word)) sub = word;
    else if (first.values.help) throw new HelpRequested(usageOf(spec));
    else if (word !== undefined) throw new UsageError(`unknown subcommand ${JSON.stringify(word)}`, usageOf(spec));
    else if (!spec.bare) throw new UsageError(`give a subcommand: ${Object.keys(spec.subcommands).join(", ")}`, usageOf(spec));
  }
  const usage = () => usageOf(spec, sub);
  if (first.values.help) throw new HelpRequested(usage());
  const options = optionsOf(spec, sub);
  const { values: given, positionals } = parseWith(argv, options, usage);

  const args = sub === undefined ? positionals : positionals.slice(1);
  const expected = (sub === undefined ? spec.args : spec.subcommands![sub]!.args) ?? [];
  const required = expected.filter((a) => !a.name.startsWith("[")).length;
  const repeated = expected.some((a) => a.name.endsWith("..."));
  if (args.length < required) {
    const missing = expected[args.length]!;
    throw new UsageError(`give ${missing.name.replace(/\.\.\.$/, "")}: ${missing.description}`, usage());
  }
  if (!repeated && args.length > expected.length) throw new UsageError(`unexpected argument ${JSON.stringify(args[expected.length])}`, usage());

  const values: Record<string, unknown> = {};
  const fromEnv = new Set<string>();
  for (const [name, o] of Object.entries(spec.options)) {
    const v = (given as Record<string, unknown>)[name];
    const env = o.env === undefined ? undefined : process.env[o.env];
    if (v !== undefined) values[name] = v;
    else if (env !== undefined) {
      values[name] = env;
      fromEnv.add(name);
    } else if (o.required && options.some(([n]) => n === name)) throw new UsageError(`give --${name} ${o.value ?? ""}`.trimEnd(), usage());
    else values[name] = o.multiple ? [] : o.type === "boolean" ? false : o.default;
  }
  return {
    sub: sub as Parsed<C>["sub"],
    values: values as Values<C["options"]>,
    positionals,
    origin: (name) => (fromEnv.has(name) ? spec.options[name]!.env! : `--${name}`),
  };
};

// ---------------------------------------------------------------------------
// The usage text

const argsText = (args: readonly ArgSpec[] | undefined): string => (args ?? []).map((a) => ` ${a.name}`).join("");

const optionLabel = (name: string, o: OptionSpec): string =>
  `${o.short ? `-${o.short}, ` : ""}--${name}${o.type === "string" ? ` ${o.value ?? "VALUE"}` : ""}`;

const optionText = (o: OptionSpec, sub: string | undefined): string => {
  const where = sub === undefined && o.in ? `${o.in.join(", ")}: ` : "";
  const notes = [
    o.required ? "required" : undefined,
    o.multiple ? "repeatable" : undefined,
    o.env ? o.env : undefined,
    o.default !== undefined ? `default: ${o.default}` : o.absent !== undefined ? `default: ${o.absent}` : undefined,
  ].filter((n) => n !== undefined);
  return `${where}${o.description}${notes.length ? ` (${notes.join("; ")})` : ""}`;
};

/** A summary as a sentence: capitalised, with a full stop. */
const sentence = (s: string): string => `${s.charAt(0).toUpperCase()}${s.slice(1)}${/[.)]$/.test(s) ? "" : "."}`;

/** Lines of `label  text`, the texts aligned. */
const table = (rows: readonly (readonly [string, string])[]): string[] => {
  const width = Math.max(...rows.map(([l]) => l.length)) + 2;
  return rows.map(([l, t]) => `  ${l.padEnd(width)}${t}`);
};

/** The synopsis of a command or one of its subcommands: `runs rerun RUN STEP`. */
export const synopsisOf = (spec: CommandSpec, sub?: string): string =>
  sub === undefined ? `${spec.name}${argsText(spec.args)}` : `${spec.name} ${sub}${argsText(spec.subcommands?.[sub]?.args)}`;

/** The usage of a command (with `sub`: of that subcommand), as `--help` prints it. */
export const usageOf = (spec: CommandSpec, sub?: string): string => {
  const subs = Object.entries(spec.subcommands ?? {});
  const lines: string[] = [];
  if (sub !== undefined) {
    lines.push(`usage: tributary ${synopsisOf(spec, sub)} [options]`, "", sentence(spec.subcommands![sub]!.summary));
  } else {
    const head = subs.length ? `${spec.bare ? "[<subcommand>]" : "<subcommand>"}${argsText(spec.args)}` : argsText(spec.args).trimStart();
    lines.push(`usage: tributary ${spec.name} ${head}${head ? " " : ""}[options]`, "", spec.description ?? sentence(spec.summary));
  }
  const args = sub === undefined ? (subs.length ? [] : (spec.args ?? [])) : (spec.subcommands![sub]!.args ?? []);
  if (args.length) lines.push("", "arguments:", ...table(args.map((a) => [a.name, a.description])));
  if (sub === undefined && subs.length) {
    lines.push("", "subcommands:", ...table(subs.map(([name, s]) => [`${name}${argsText(s.args)}`, s.summary])));
    lines.push("", `'tributary ${spec.name} <subcommand> --help' shows the usage of one.`);
  }
  const options = optionsOf(spec, sub);
  const rows = [...options, ["help", HELP_OPTION] as const];
  lines.push("", "options:", ...table(rows.map(([name, o]) => [optionLabel(name, o), optionText(o, sub)])));
  return lines.join("\n");
};

/** The usage of `tributary` itself: every command, one line each. */
export const programUsage = (commands: readonly CommandSpec[], common: CommandSpec["options"], epilogue: readonly string[]): string =>
  [
    "usage: tributary <command> [options]",
    "",
    "commands:",
    ...table(
      commands.map((c) => [
        c.name,
        `${c.summary}${c.subcommands ? ` (${Object.keys(c.subcommands).join(" | ")})` : ""}`,
      ]),
    ),
    "",
    "options of the commands that act on an environment:",
    ...table(Object.entries(common).map(([name, o]) => [optionLabel(name, o), optionText(o, undefined)])),
    "",
    ...epilogue,
  ].join("\n");
