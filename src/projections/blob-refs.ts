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
 * - `AssetPersisted`: each entry's `blobKey`;
 * - `CheckpointSaved`: a `value` of kind `blob`;
 * - `BlobStored`: bytes uploaded through this environment (an environment
 *   event, no run). The frames that refer to a blob are refused unless the
 *   environment sees its key already, so a reference comes from bytes
 *   uploaded or seen here, never from a hash alone.
 */
import type { BlobRef, Event, ResultValue, RunId } from "../events/index.js";
import { eventsOfTypes, unreachable, type DocSource, type EventOf, type Projection } from "./projection.js";

/** How an event referred to a blob. */
export type BlobUse = "arguments" | "result" | "asset" | "upload" | "checkpoint";

export interface BlobRefDoc {
  readonly key: string;
  /** The first reference, kept as it was: later ones add nothing to visibility. */
  readonly use: BlobUse;
  /** The run of the reference (none for an `upload`). */
  readonly runId?: RunId;
  /** Sequence of the commit holding the first reference. */
  readonly seq: number;
}

const REFERRING = ["RunSubmitted", "StepScheduled", "ExecutionSucceeded", "StepResultReused", "AssetPersisted", "BlobStored", "CheckpointSaved"] as const;
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
    case "BlobStored":
      return [e.data.key];
    case "CheckpointSaved":
      return ofResult(e.data.value);
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
    case "BlobStored":
      return "upload";
    case "CheckpointSaved":
      return "checkpoint";
    default:
      return unreachable(e);
  }
};

export const blobRefsProjection: Projection<BlobRefDoc> = {
  name: "blob-refs",
  // 2: uploads (`BlobStored`) are references too; `runId` is absent for them.
  version: 2,
  keysOf: blobKeysOf,
  evolve(doc, e, key, ctx) {
    if (doc !== undefined || !refers(e)) return doc;
    return { key, use: useOf(e), ...(e.runId === undefined ? {} : { runId: e.runId }), seq: ctx.seq };
  },
};

/** The first reference to a blob in this environment's own log, if any. */
export const getBlobRef = (src: DocSource, key: string): BlobRefDoc | undefined => src.get<BlobRefDoc>("blob-refs", key);
