/**
 * What a decider is: one small function per command, `(command, model, ctx)
 * → Decision`, grouped by aggregate under `deciders/`. Pure: the model is a
 * read-only view of the projections, and ids and the time come in through
 * `ctx`.
 */
import * as E from "fp-ts/lib/Either.js";
import type { Event, EventId, Principal } from "../../events/index.js";
import type { Command } from "./commands.js";
import type { Model } from "./model.js";
import type { Rejection } from "./rejections.js";

/** What a decision may use besides the model: the time, fresh event ids, and who asks. */
export interface DecideContext {
  /** Now, ms since the epoch. */
  readonly now: number;
  readonly id: () => EventId;
  /** Who caused the command: recorded as the `by` of every event it decides. Absent for what the server does by itself. */
  readonly by?: Principal;
}

/** The events that carry a command out (none: its effect is already there), or why it is refused. */
export type Decision = E.Either<Rejection, readonly Event[]>;

/** The command of type `K`. */
export type CommandOf<K extends Command["type"]> = Extract<Command, { readonly type: K }>;

/** Decides one type of command. */
export type Handler<K extends Command["type"]> = (cmd: CommandOf<K>, m: Model, ctx: DecideContext) => Decision;

/** A handler for each of these command types: a decider. */
export type Handlers<K extends Command["type"] = Command["type"]> = { readonly [P in K]: Handler<P> };

/** Nothing to do: the command's effect is already in the model. */
export const none: Decision = E.right([]);

/** The command is carried out by these events. */
export const accept = (events: readonly Event[]): Decision => E.right(events);

/** The command is refused. */
export const reject = (r: Rejection): Decision => E.left(r);
