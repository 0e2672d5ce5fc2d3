/**
 * The blobs an environment's own log refers to, keyed by blob key
 * (`sha256:<hex>`): the first event that referred to each. A blob may be
 * read through an environment only when this projection (its own, or one
 * it inherits: a base's, a branch's frozen parent's) knows the key, so a
 * hash alone never reads bytes another project or environment stored.
 * Pure.
 *
 * The events that carry blob references:
 * - `RunSubmitted`, `StepScheduled`: `argumentsBlob` (arguments too large to log inline);
 * - `ExecutionSucceeded`, `StepResultReused`: a `result` of kind `blob`;
 * - `AssetPersisted`: each entry's `blobKey`.
 */
import type { BlobRef, Event, ResultValue, RunId } from "../events/index.js";
import { eventsOfTypes, unreachable, type DocSource, type EventOf, type Projection } from "./projection.js";

/** How an event referred to a blob. */
export type BlobUse = "arguments" | "result" | "asset";

export interface BlobRefDoc {
  readonly key: string;
  /** The first reference, kept as it was: later ones add nothing to visibility. */
  readonly use: BlobUse;
  readonly runId: RunId;
  /** Sequence of the commit holding the first reference. */
  readonly seq: number;
}

const REFERRING = ["RunSubmitted", "StepScheduled", "ExecutionSucceeded", "StepResultReused", "AssetPersisted"] as const;
const refers = eventsOfTypes(REFERRING);
type Referring = EventOf<(typeof REFERRING)[number]>;

const ofArguments = (blob: BlobRef | undefined): string[] => (blob === undefined ? [] : [blob.key]);
const ofResult = (r: ResultValue): string[] => (r.kind === "blob" ? [r.blob.key] : []);

/** The blob keys an event refers to, each once, in order. */
export const blobKeysOf = (e: Event): readonly string[] => {
  if (!refers(e)) return [];
  const keys = keysOf(e);
  return keys.length > 1 ? [...new Set(keys)] : keys;
};

const keysOf = (e: Referring): string[] => {
  switch (e.type) {
    case "RunSubmitted":
    case "StepScheduled":
      return ofArguments(e.data.argumentsBlob);
    case "ExecutionSucceeded":
    case "StepResultReused":
      return ofResult(e.data.result);
    case "AssetPersisted":
      return e.data.entries.map((x) => x.blobKey);
    default:
      return unreachable(e);
  }
};

const useOf = (e: Referring): BlobUse => {
  switch (e.type) {
    case "RunSubmitted":
    case "StepScheduled":
      return "arguments";
    case "ExecutionSucceeded":
    case "StepResultReused":
      return "result";
    case "AssetPersisted":
      return "asset";
    default:
      return unreachable(e);
  }
};

export const blobRefsProjection: Projection<BlobRefDoc> = {
  name: "blob-refs",
  version: 1,
  keysOf: blobKeysOf,
  evolve(doc, e, key, ctx) {
    if (doc !== undefined || !refers(e)) return doc;
    return { key, use: useOf(e), runId: e.runId, seq: ctx.seq };
  },
};

/** The first reference to a blob in this environment's own log, if any. */
export const getBlobRef = (src: DocSource, key: string): BlobRefDoc | undefined => src.get<BlobRefDoc>("blob-refs", key);
