/**
 * The header's project switcher: the projects the server lists (`GET
 * /api/projects`; with --auth, the token's own), asked once per page load
 * and token, with the current one even if the list lacks it (a link to a
 * project not made yet, or not the token's).
 */
import type { ProjectRow } from "../../protocol/api.js";
import { navigate, useApi } from "../hooks.js";
import { pathOf } from "../routes.js";

export const ProjectPicker = ({ project, generation }: { project?: string; generation: number }) => {
  const projects = useApi<ProjectRow[]>("/api/projects", { generation });
  const rows = projects.data ?? [];
  return (
    <label>
      project{" "}
      <select
        name="project-pick"
        aria-label="project"
        value={project ?? ""}
        onChange={(e) => {
          const v = e.currentTarget.value;
          if (v) navigate(pathOf({ view: "project", project: v }));
        }}
      >
        {!project && <option value="">(choose)</option>}
        {rows.map((p) => (
          <option key={p.name} value={p.name}>
            {p.name} ({p.envs} env{p.envs === 1 ? "" : "s"})
          </option>
        ))}
        {project && !rows.some((p) => p.name === project) && <option value={project}>{project}</option>}
      </select>
    </label>
  );
};
