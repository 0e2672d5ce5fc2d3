/**
 * What a projection is, and the pure fold that applies events to a set of
 * projections.
 *
 * A projection is `{ name, version, keysOf, evolve }`: `keysOf` names the
 * documents an event touches, `evolve` computes each one's next value from
 * its current one. Both are pure; they may read other documents (of the same
 * environment, as of the event being applied) through the context, which is
 * how the cache index finds the cache key of the step an execution belongs
 * to. Projections are applied in the order given, so a projection may read
 * what an earlier one wrote for the same event.
 *
 * The same fold drives the LMDB store (`store-lmdb.ts`), an in-memory store
 * (time travel, tests) and rebuilds, so they cannot disagree.
 */
import type { Commit, Event, RunId } from "../events/index.js";

/** Reads documents of any projection, as of the event being applied. */
export interface DocReader {
  get<D>(projection: string, key: string): D | undefined;
}

export interface RangeOptions {
  /** Only keys that start with this. */
  readonly prefix?: string;
  /** Newest (greatest key) first. */
  readonly reverse?: boolean;
  readonly limit?: number;
}

/** A readable set of projection tables: what queries run against. */
export interface DocSource extends DocReader {
  /** Documents of one projection in key order. */
  range<D>(projection: string, options?: RangeOptions): Iterable<readonly [string, D]>;
}

/** Where an event sits in the log, and a way to read other documents. */
export interface EvolveContext extends DocReader {
  /** Sequence of the commit holding the event. */
  readonly seq: number;
  /** Index of the event within its commit. */
  readonly index: number;
  readonly runId: RunId | undefined;
}

export interface Projection<D = unknown> {
  /** Table name; also the prefix in dumps. */
  readonly name: string;
  /** Bump on any change to `evolve` or to the document shape: stores rebuild. */
  readonly version: number;
  /** The keys of the documents `event` changes (none: it is not interested). */
  keysOf(event: Event, ctx: EvolveContext): readonly string[];
  /**
   * The document's next value; `undefined` deletes it. Must not mutate `doc`.
   * Called once per key returned by `keysOf`, with the key.
   */
  evolve(doc: D | undefined, event: Event, key: string, ctx: EvolveContext): D | undefined;
}

/** A type-erased projection, as lists of them are kept. */
export type AnyProjection = Projection<any>;

/**
 * Documents changed in a batch, in front of a backing store. Reads (and
 * ranges, when the backing store has them) see the batch's own writes.
 * `undefined` marks a deletion.
 */
export class Overlay implements DocSource {
  readonly changes = new Map<string, Map<string, unknown>>();

  constructor(
    private readonly backing: DocReader & Partial<DocSource>,
    /** Told of every document set, e.g. to remember which commit last changed it. */
    private readonly onSet?: (projection: string, key: string) => void,
  ) {}

  /** The backing range merged with this overlay's changes, in key order. */
  *range<D>(projection: string, options: RangeOptions = {}): Iterable<readonly [string, D]> {
    const { prefix, reverse = false, limit } = options;
    const mine = this.changes.get(projection);
    // At most `mine.size` entries below can be replaced or deleted here.
    const want = limit === undefined ? {} : { limit: limit + (mine?.size ?? 0) };
    const below = this.backing.range?.<D>(projection, { ...(prefix === undefined ? {} : { prefix }), reverse, ...want }) ?? [];
    if (!mine || mine.size === 0) {
      let n = 0;
      for (const entry of below) {
        if (limit !== undefined && n++ >= limit) return;
        yield entry;
      }
      return;
    }
    const keys = new Set<string>();
    for (const [k] of below) keys.add(k);
    for (const k of mine.keys()) if (prefix === undefined || k.startsWith(prefix)) keys.add(k);
    const sorted = [...keys].sort();
    if (reverse) sorted.reverse();
    let n = 0;
    for (const k of sorted) {
      const doc = this.get<D>(projection, k);
      if (doc === undefined) continue;
      if (limit !== undefined && n++ >= limit) return;
      yield [k, doc];
    }
  }

  get<D>(projection: string, key: string): D | undefined {
    const t = this.changes.get(projection);
    if (t?.has(key)) return t.get(key) as D | undefined;
    return this.backing.get<D>(projection, key);
  }

  set(projection: string, key: string, doc: unknown): void {
    let t = this.changes.get(projection);
    if (!t) this.changes.set(projection, (t = new Map()));
    t.set(key, doc);
    this.onSet?.(projection, key);
  }

  /** Forgets a change: reads fall through to the backing store again. */
  forget(projection: string, key: string): void {
    this.changes.get(projection)?.delete(key);
  }
}

/** Applies every event of `commit` to `projections`, writing into `overlay`. */
export const applyCommit = (projections: readonly AnyProjection[], overlay: Overlay, commit: Commit): void => {
  const events = commit.events;
  for (let index = 0; index < events.length; index++) {
    const event = events[index]!;
    const ctx: EvolveContext = {
      seq: commit.seq,
      index,
      runId: event.runId,
      get: (p, k) => overlay.get(p, k),
    };
    for (const p of projections) {
      for (const key of p.keysOf(event, ctx)) {
        overlay.set(p.name, key, p.evolve(overlay.get(p.name, key), event, key, ctx));
      }
    }
  }
};

/** `{ name: version }` of a list of projections, for stores to compare. */
export const versionsOf = (projections: readonly AnyProjection[]): Record<string, number> =>
  Object.fromEntries(projections.map((p) => [p.name, p.version]));

/** The events of the given types. */
export type EventOf<T extends Event["type"]> = Extract<Event, { readonly type: T }>;

/**
 * A guard for the events of the listed types: the events a projection
 * follows, listed once. `keysOf` keys the events it lets through, and
 * `evolve` narrows to them, so that a `switch` ending in {@link unreachable}
 * handles exactly the listed types (the compiler refuses a missing case and a
 * case for a type not listed).
 */
export const eventsOfTypes = <const T extends Event["type"]>(types: readonly T[]): ((e: Event) => e is EventOf<T>) => {
  const listed: ReadonlySet<string> = new Set(types);
  return (e): e is EventOf<T> => listed.has(e.type);
};

/** Exhaustiveness check for `switch` over event types. */
export const unreachable = (x: never): never => {
  throw new Error(`unexpected value ${JSON.stringify(x)}`);
};
