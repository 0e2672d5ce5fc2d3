/**
 * Branded identifiers and names, and their parsers.
 *
 * Every name that ends up in a NATS stream name or subject token goes through
 * a parser here first: nothing the user typed is ever passed through raw.
 * Pure: no I/O, no clock, no randomness except in {@link IdGenerator}, which
 * takes both from its caller.
 */
import * as E from "fp-ts/lib/Either.js";

declare const brand: unique symbol;
/** A string that passed the parser of `B`. */
export type Brand<T, B extends string> = T & { readonly [brand]: B };

export type ProjectName = Brand<string, "ProjectName">;
export type EnvName = Brand<string, "EnvName">;
/** A 26-character sortable id (time-ordered, Crockford base32). */
export type EventId = Brand<string, "EventId">;
export type RunId = Brand<string, "RunId">;
export type StepId = Brand<string, "StepId">;
export type ExecutionId = Brand<string, "ExecutionId">;
export type AgentId = Brand<string, "AgentId">;
export type AssetId = Brand<string, "AssetId">;

/** Why a name or id was refused; `hint` says what would be accepted. */
export interface InvalidName {
  readonly _tag: "InvalidName";
  readonly kind: string;
  readonly value: unknown;
  readonly hint: string;
}

/**
 * Project and environment names: 1 to 64 characters, ASCII letters, digits
 * and `-`, starting with a letter or digit. No `.`, `*`, `>`, `_`, spaces or
 * slashes: the name becomes a NATS subject token and part of a stream name
 * (`TRIB_<project>_<env>`), and `_` is the separator there.
 */
/** Project and environment names (also the JSON Schema `pattern` of the API). */
export const NAME = /^[A-Za-z0-9][A-Za-z0-9-]{0,63}$/;
export const NAME_HINT =
  "use 1-64 characters: letters, digits and '-', starting with a letter or digit (no '.', '_', '*', '>', '/' or spaces)";

/**
 * Ids of runs, steps, executions, agents and assets: 1 to 64 characters of
 * letters, digits, `-` and `_` (a valid NATS subject token).
 */
/** Run, step, execution, agent and asset ids (also the JSON Schema `pattern` of the API). */
export const ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
export const ID_HINT = "use 1-64 characters: letters, digits, '-' and '_', starting with a letter or digit";

const parser =
  <B extends string>(kind: string, re: RegExp, hint: string) =>
  (value: unknown): E.Either<InvalidName, Brand<string, B>> =>
    typeof value === "string" && re.test(value)
      ? E.right(value as Brand<string, B>)
      : E.left({ _tag: "InvalidName", kind, value, hint });

export const parseProjectName = parser<"ProjectName">("project name", NAME, NAME_HINT);
export const parseEnvName = parser<"EnvName">("environment name", NAME, NAME_HINT);
export const parseRunId = parser<"RunId">("run id", ID, ID_HINT);
export const parseStepId = parser<"StepId">("step id", ID, ID_HINT);
export const parseExecutionId = parser<"ExecutionId">("execution id", ID, ID_HINT);
export const parseAgentId = parser<"AgentId">("agent id", ID, ID_HINT);
export const parseAssetId = parser<"AssetId">("asset id", ID, ID_HINT);

/** Renders a refusal as one sentence that says what to do. */
export const describeInvalidName = (e: InvalidName): string =>
  `invalid ${e.kind} ${JSON.stringify(e.value)}: ${e.hint}`;

/**
 * `value` of field `field` parsed with `parse` (one of the parsers above),
 * or the refusal naming the field: `runId: invalid run id "a.b": use …`.
 * For the edges that build commands.
 */
export const parseField = <T>(parse: (value: unknown) => E.Either<InvalidName, T>, field: string, value: unknown): E.Either<string, T> => {
  const r = parse(value);
  return E.isLeft(r) ? E.left(`${field}: ${describeInvalidName(r.left)}`) : r;
};

// ---------------------------------------------------------------------------
// Sortable ids

const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const TIME_CHARS = 10; // 48 bits of milliseconds
const RANDOM_CHARS = 16; // 80 bits

/** Is `value` shaped like an id made by {@link IdGenerator}? */
export const isSortableId = (value: unknown): value is EventId =>
  typeof value === "string" && /^[0-9A-HJKMNP-TV-Z]{26}$/.test(value);

/** The millisecond timestamp encoded in a sortable id. */
export const timeOfId = (id: string): number => {
  let t = 0;
  for (let i = 0; i < TIME_CHARS; i++) t = t * 32 + CROCKFORD.indexOf(id[i] ?? "0");
  return t;
};

/**
 * Makes 26-character ids that sort by creation time, like ULIDs: 10
 * characters of milliseconds, 16 of randomness. Within one millisecond the
 * random part is incremented, so ids from one generator are strictly
 * increasing even when the clock stands still or steps back.
 *
 * The clock and the random source are injected so that tests and replays
 * can make the same ids again.
 */
export class IdGenerator {
  private lastTime = -1;
  private readonly last = new Uint8Array(RANDOM_CHARS);

  constructor(
    private readonly clock: () => number = Date.now,
    private readonly random: (bytes: Uint8Array) => void = (b) => crypto.getRandomValues(b),
  ) {}

  next(): string {
    let now = this.clock();
    if (now <= this.lastTime) {
      this.increment();
      now = this.lastTime;
    } else {
      this.lastTime = now;
      this.random(this.last);
      for (let i = 0; i < RANDOM_CHARS; i++) this.last[i] = this.last[i]! & 31;
    }
    let t = now;
    const time = new Array<string>(TIME_CHARS);
    for (let i = TIME_CHARS - 1; i >= 0; i--) {
      time[i] = CROCKFORD[t % 32]!;
      t = Math.floor(t / 32);
    }
    let out = time.join("");
    for (let i = 0; i < RANDOM_CHARS; i++) out += CROCKFORD[this.last[i]!]!;
    return out;
  }

  private increment(): void {
    for (let i = RANDOM_CHARS - 1; i >= 0; i--) {
      const v = this.last[i]! + 1;
      if (v < 32) {
        this.last[i] = v;
        return;
      }
      this.last[i] = 0;
    }
    // 80 bits exhausted within one millisecond: move the clock on by one.
    this.lastTime += 1;
  }
}
