/**
 * `/projects/{p}`: the environments of a project as a tree. An environment
 * hangs under the one it was branched from (frozen: that log up to a
 * sequence) or, if not a branch, under its base (live inheritance); each
 * shows its log's length and whether it is archived.
 */
import type { EnvironmentRow } from "../../protocol/api.js";
import { ErrorBox, Link, Loading } from "../components.js";
import { useApi } from "../hooks.js";
import { envsApi, pathOf } from "../routes.js";
import { showTime } from "../format.js";

/** The environment a row hangs under in the tree, if it is in the list. */
export const parentOf = (row: EnvironmentRow, names: ReadonlySet<string>): string | undefined => {
  const p = row.branchedFrom?.parent ?? row.base;
  return p !== undefined && names.has(p) && p !== row.name ? p : undefined;
};

/** Rows as a forest: roots first, children under their parent, by name. */
export const envForest = (rows: readonly EnvironmentRow[]): { row: EnvironmentRow; children: string[] }[] => {
  const names = new Set(rows.map((r) => r.name));
  const children = new Map<string, string[]>();
  for (const r of rows) {
    const p = parentOf(r, names);
    if (p !== undefined) children.set(p, [...(children.get(p) ?? []), r.name]);
  }
  return [...rows].sort((a, b) => a.name.localeCompare(b.name)).map((row) => ({ row, children: (children.get(row.name) ?? []).sort() }));
};

export const EnvTree = ({ project }: { project: string }) => {
  const envs = useApi<EnvironmentRow[]>(envsApi(project), { pollMs: () => 5000 });
  return (
    <section>
      <h1>
        Project <code>{project}</code>
      </h1>
      <h2>Environments</h2>
      {envs.error && <ErrorBox error={envs.error} what="environments" />}
      {envs.loading && <Loading />}
      {envs.data && envs.data.length === 0 && <p class="muted">This project has no environment yet: a server creates one when an agent or a submission names it, or with <code>tributary envs create</code>.</p>}
      {envs.data && envs.data.length > 0 && <Tree project={project} rows={envs.data} />}
    </section>
  );
};

const Tree = ({ project, rows }: { project: string; rows: readonly EnvironmentRow[] }) => {
  const forest = envForest(rows);
  const byName = new Map(forest.map((f) => [f.row.name, f]));
  const names = new Set(rows.map((r) => r.name));
  const node = (name: string, seen: Set<string>) => {
    const f = byName.get(name)!;
    const next = new Set(seen).add(name);
    return (
      <li key={name} data-env={name}>
        <EnvLine project={project} row={f.row} />
        {f.children.length > 0 && <ul>{f.children.filter((c) => !seen.has(c)).map((c) => node(c, next))}</ul>}
      </li>
    );
  };
  // A cycle of bases (which the server refuses) would leave no root: show those rows at the top all the same.
  const roots = forest.filter((f) => parentOf(f.row, names) === undefined).map((f) => f.row.name);
  const placed = new Set<string>();
  const walk = (n: string) => {
    if (placed.has(n)) return;
    placed.add(n);
    byName.get(n)!.children.forEach(walk);
  };
  roots.forEach(walk);
  const orphans = forest.map((f) => f.row.name).filter((n) => !placed.has(n));
  return <ul class="tree">{[...roots, ...orphans].map((n) => node(n, new Set()))}</ul>;
};

const EnvLine = ({ project, row }: { project: string; row: EnvironmentRow }) => (
  <span class={row.archived ? "env archived" : "env"}>
    <Link href={pathOf({ view: "runs", project, env: row.name })} class="env-name">
      {row.name}
    </Link>
    {row.branchedFrom && (
      <span class="tag" title="frozen inheritance: the parent's log up to this sequence">
        branch of {row.branchedFrom.parent} at seq {row.branchedFrom.at}
      </span>
    )}
    {row.base && (
      <span class="tag" title="live inheritance: cache look-ups that miss fall through to the base">
        base {row.base}
      </span>
    )}
    {row.archived && <span class="tag tag-archived">archived{row.archivedAt ? ` ${showTime(row.archivedAt)}` : ""}</span>}
    <span class="muted">
      log to seq {row.lastSeq}
      {row.createdAt ? ` · created ${showTime(row.createdAt)}` : ""}
    </span>
  </span>
);
