/**
 * `/projects/{p}`: the environments of a project as a tree (`tree.ts`),
 * each with its base or branch point, its log's last sequence, and whether
 * it is archived; live by the project's push (`GET …/projects/{p}/changes`).
 */
import type { EnvironmentRow } from "../../protocol/api.js";
import { ErrorBox, Link, Loading } from "../components.js";
import { useApi } from "../hooks.js";
import { envsApi, pathOf } from "../routes.js";
import { showTime } from "../format.js";
import { envForest, type EnvNode } from "../tree.js";

export const EnvTree = ({ project }: { project: string }) => {
  // Fetched again when the project's push stream says an environment was made, changed or its log grew.
  const envs = useApi<EnvironmentRow[]>(envsApi(project), { liveProject: project });
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
  const node = (n: EnvNode) => (
    <li key={n.row.name} data-env={n.row.name}>
      <EnvLine project={project} row={n.row} />
      {n.children.length > 0 && <ul>{n.children.map(node)}</ul>}
    </li>
  );
  return <ul class="tree">{envForest(rows).map(node)}</ul>;
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
