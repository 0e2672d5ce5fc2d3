/**
 * Studio's URL scheme (docs/studio.md): every place of the app has a path,
 * so that any of them can be linked to, bookmarked and reloaded. The server
 * answers index.html for each of them; this module reads the path back.
 * Pure: no DOM here (test/unit/studio-routes.unit.spec.ts holds it).
 */

export type Place =
  /** `/`: goes on to the last project used (or the server's default). */
  | { readonly view: "home" }
  /** `/projects/{p}`: the project's environments as a tree. */
  | { readonly view: "project"; readonly project: string }
  /** `/projects/{p}/envs/{e}` (or `…/runs`): the environment's runs. */
  | { readonly view: "runs"; readonly project: string; readonly env: string }
  /** `/projects/{p}/envs/{e}/runs/{run}[/steps/{step}[/executions/{x}]]`: a run, a step selected, an execution of it. */
  | {
      readonly view: "run";
      readonly project: string;
      readonly env: string;
      readonly runId: string;
      readonly stepId?: string;
      readonly executionId?: string;
    }
  /** `/projects/{p}/envs/{e}/runs/{run}/history[/steps/{step}]` (`?at=SEQ`): the run's events, and the run as of a sequence. */
  | { readonly view: "history"; readonly project: string; readonly env: string; readonly runId: string; readonly stepId?: string }
  /** `/projects/{p}/envs/{e}/assets/{asset}`: an asset. */
  | { readonly view: "asset"; readonly project: string; readonly env: string; readonly assetId: string }
  /** Any other path: a page that says there is nothing here. */
  | { readonly view: "unknown"; readonly path: string };

const seg = (s: string): string => encodeURIComponent(s);

/** The path of a place. */
export const pathOf = (p: Place): string => {
  switch (p.view) {
    case "home":
      return "/";
    case "project":
      return `/projects/${seg(p.project)}`;
    case "runs":
      return `/projects/${seg(p.project)}/envs/${seg(p.env)}`;
    case "run": {
      const run = `/projects/${seg(p.project)}/envs/${seg(p.env)}/runs/${seg(p.runId)}`;
      if (p.stepId === undefined) return run;
      const step = `${run}/steps/${seg(p.stepId)}`;
      return p.executionId === undefined ? step : `${step}/executions/${seg(p.executionId)}`;
    }
    case "history": {
      const history = `/projects/${seg(p.project)}/envs/${seg(p.env)}/runs/${seg(p.runId)}/history`;
      return p.stepId === undefined ? history : `${history}/steps/${seg(p.stepId)}`;
    }
    case "asset":
      return `/projects/${seg(p.project)}/envs/${seg(p.env)}/assets/${seg(p.assetId)}`;
    case "unknown":
      return p.path;
    default:
      return unreachable(p);
  }
};

/** The place of a path (`location.pathname`); a path of no place is `unknown`. */
export const placeOf = (pathname: string): Place => {
  let s: string[];
  try {
    s = pathname.split("/").filter(Boolean).map(decodeURIComponent);
  } catch {
    return { view: "unknown", path: pathname };
  }
  const unknown: Place = { view: "unknown", path: pathname };
  if (s.length === 0) return { view: "home" };
  if (s[0] !== "projects" || s[1] === undefined) return unknown;
  const project = s[1];
  if (s.length === 2) return { view: "project", project };
  if (s[2] !== "envs" || s[3] === undefined) return unknown;
  const env = s[3];
  if (s.length === 4 || (s.length === 5 && s[4] === "runs")) return { view: "runs", project, env };
  if (s[4] === "assets" && s.length === 6) return { view: "asset", project, env, assetId: s[5]! };
  if (s[4] !== "runs" || s[5] === undefined) return unknown;
  const runId = s[5];
  if (s.length === 6) return { view: "run", project, env, runId };
  if (s[6] === "history" && s.length === 7) return { view: "history", project, env, runId };
  if (s[6] === "history" && s[7] === "steps" && s.length === 9) return { view: "history", project, env, runId, stepId: s[8]! };
  if (s[6] !== "steps" || s[7] === undefined) return unknown;
  if (s.length === 8) return { view: "run", project, env, runId, stepId: s[7] };
  if (s[8] === "executions" && s.length === 10) return { view: "run", project, env, runId, stepId: s[7], executionId: s[9]! };
  return unknown;
};

/** The project and environment a place is in, if any: what the switcher shows. */
export const scopeOf = (p: Place): { project?: string; env?: string } =>
  p.view === "home" || p.view === "unknown" ? {} : p.view === "project" ? { project: p.project } : { project: p.project, env: p.env };

/** The API path of a project's environments. */
export const envsApi = (project: string): string => `/api/projects/${seg(project)}/envs`;

/** The API path of an environment's resource (`rest` after `…/envs/{env}`). */
export const envApi = (project: string, env: string, rest = ""): string => `/api/projects/${seg(project)}/envs/${seg(env)}${rest}`;

const unreachable = (x: never): never => {
  throw new Error(`unexpected place ${JSON.stringify(x)}`);
};
