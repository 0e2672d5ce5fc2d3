/**
 * The environments of a project as a tree: an environment hangs under the
 * one it was branched from (frozen: that log up to a sequence) or, if it is
 * no branch, under its base (live inheritance). Pure (unit-tested).
 */
import type { EnvironmentRow } from "../protocol/api.js";

/** The environment a row hangs under, if that one is in the list. */
export const parentOf = (row: EnvironmentRow, names: ReadonlySet<string>): string | undefined => {
  const p = row.branchedFrom?.parent ?? row.base;
  return p !== undefined && names.has(p) && p !== row.name ? p : undefined;
};

export interface EnvNode {
  readonly row: EnvironmentRow;
  readonly children: readonly EnvNode[];
}

/**
 * The rows as a forest, each level by name. A row whose parent chain loops
 * (the server refuses such bases, but a reader need not trust that) is
 * shown at the top rather than lost.
 */
export const envForest = (rows: readonly EnvironmentRow[]): EnvNode[] => {
  const names = new Set(rows.map((r) => r.name));
  const sorted = [...rows].sort((a, b) => a.name.localeCompare(b.name));
  const kids = new Map<string, EnvironmentRow[]>();
  for (const r of sorted) {
    const p = parentOf(r, names);
    if (p !== undefined) kids.set(p, [...(kids.get(p) ?? []), r]);
  }
  const placed = new Set<string>();
  const build = (row: EnvironmentRow): EnvNode => {
    placed.add(row.name);
    return { row, children: (kids.get(row.name) ?? []).filter((c) => !placed.has(c.name)).map(build) };
  };
  const forest = sorted.filter((r) => parentOf(r, names) === undefined).map(build);
  for (const r of sorted) if (!placed.has(r.name)) forest.push(build(r));
  return forest;
};
