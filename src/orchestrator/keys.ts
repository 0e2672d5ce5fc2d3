/**
 * The keys a step is scheduled with, computed at the edge (hashing is I/O-free
 * but lives outside the pure core with its `node:crypto` import):
 *
 * - the **memo key**: target, the hash of its code (from the agent's
 *   manifest) and the arguments. Equal calls of unchanged code have equal
 *   keys, whatever the key order of objects in the arguments;
 * - the **cache key**, for targets with the `cache` option: the same, with
 *   the cache namespace, and the caller's own key instead of the arguments
 *   when it gave one.
 *
 * Arguments kept as a blob enter the keys as the sha256 of their bytes. The
 * agent encodes them with object keys sorted (see `packArguments`), so equal
 * large arguments have equal bytes and equal keys too.
 */
import { createHash } from "node:crypto";
import type { BlobRef, StepOptions, TargetRef, Value } from "../events/index.js";
import { canonicalJson } from "../projections/index.js";
import type { Model } from "./core/model.js";
import { mergeOptions } from "./core/decide.js";
import type { StepKeys } from "./core/deciders/reuse.js";

export type { StepKeys } from "./core/deciders/reuse.js";

const hash = (value: unknown): string => createHash("sha256").update(canonicalJson(value)).digest("hex").slice(0, 32);

export const stepKeys = (
  m: Model,
  target: TargetRef,
  inline: readonly Value[],
  callOptions: StepOptions | undefined,
  argumentsBlob?: BlobRef,
): StepKeys => {
  const args: unknown = argumentsBlob === undefined ? inline : { $blob: argumentsBlob.sha256 };
  const manifest = m.manifest(target.repository)?.targets.find((t) => t.name === target.target);
  const code = manifest?.codeHash ?? "";
  const options = mergeOptions(manifest?.options ?? {}, callOptions);
  const t = `${target.repository}:${target.target}`;
  const memo = hash({ t, code, args });
  if (!options.cache) return { memo };
  const c = options.cache;
  return { memo, cache: hash({ t, code, ns: c.namespace ?? "", ...(c.key !== undefined ? { key: c.key } : { args }) }) };
};
