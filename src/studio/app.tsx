/**
 * The app: a header to switch project and environment, the view of the
 * place in the address bar, and (with `--auth`) the form that asks for a
 * token when the server answers 401.
 */
import { useEffect, useState } from "preact/hooks";
import { onAuthNeeded, setToken, token, type ApiError } from "./api.js";
import { forStudio } from "./messages.js";
import { Link } from "./components.js";
import { navigate, useApi, usePlace } from "./hooks.js";
import { envsApi, pathOf, scopeOf, type Place } from "./routes.js";
import type { EnvironmentRow, WhoAmIAnswer } from "../protocol/api.js";
import { EnvTree } from "./views/envs.js";
import { RunsList } from "./views/runs.js";
import { RunPage } from "./views/run.js";
import { HistoryPage } from "./views/history.js";
import { AssetPage } from "./views/asset.js";
import { ComparePage } from "./views/compare.js";
import { LogsPage } from "./views/logs.js";
import { AgentsPage } from "./views/agents.js";
import { ProjectPicker } from "./views/projects.js";
import { ConnectionState } from "./views/connection.js";

const RECENT_KEY = "tributary.projects";

/** The project the server starts with, as it writes it into index.html. */
const serverDefaultProject = (): string => document.querySelector<HTMLMetaElement>('meta[name="tributary-project"]')?.content || "default";

const recentProjects = (): string[] => {
  try {
    const v = JSON.parse(localStorage.getItem(RECENT_KEY) ?? "[]") as unknown;
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
  } catch {
    return [];
  }
};
const remember = (project: string) => localStorage.setItem(RECENT_KEY, JSON.stringify([project, ...recentProjects().filter((p) => p !== project)].slice(0, 10)));

export const App = () => {
  const place = usePlace();
  const [authProblem, setAuthProblem] = useState<ApiError | null>(null);
  /** Bumped when the token changes: every view loads again. */
  const [generation, setGeneration] = useState(0);
  useEffect(() => onAuthNeeded((e) => setAuthProblem(e)), []);
  const { project, env } = scopeOf(place);
  useEffect(() => {
    if (project) remember(project);
  }, [project]);
  useEffect(() => {
    document.title = titleOf(place);
  }, [place]);
  return (
    <div class="app">
      <Header project={project} env={env} generation={generation} onSignOut={() => (setToken(null), setGeneration((g) => g + 1))} />
      {authProblem && (
        <TokenForm
          problem={authProblem}
          onToken={(t) => {
            setToken(t);
            setAuthProblem(null);
            setGeneration((g) => g + 1);
          }}
        />
      )}
      <main key={generation}>
        <View place={place} generation={generation} />
      </main>
    </div>
  );
};

const titleOf = (p: Place): string => {
  const where =
    p.view === "run"
      ? `run ${p.runId}`
      : p.view === "history"
        ? `history of ${p.runId}`
        : p.view === "runs"
          ? `${p.env} runs`
          : p.view === "project"
            ? p.project
            : p.view === "asset"
              ? `asset ${p.assetId}`
              : p.view === "compare"
                ? `compare ${p.a.runId} · ${p.b.runId}`
                : p.view === "logs"
                  ? `logs of ${p.runId}`
                  : p.view === "agents"
                    ? `${p.env} agents`
                    : "";
  return where ? `${where} · Tributary Studio` : "Tributary Studio";
};

const View = ({ place, generation }: { place: Place; generation: number }) => {
  switch (place.view) {
    case "home":
      return <Home generation={generation} />;
    case "project":
      return <EnvTree project={place.project} />;
    case "runs":
      return <RunsList project={place.project} env={place.env} />;
    case "run":
      return <RunPage {...place} />;
    case "history":
      return <HistoryPage {...place} />;
    case "asset":
      return <AssetPage {...place} />;
    case "compare":
      return <ComparePage {...place} />;
    case "logs":
      return <LogsPage {...place} />;
    case "agents":
      return <AgentsPage {...place} />;
    case "unknown":
      return (
        <section>
          <h1>Nothing here</h1>
          <p>
            No page of Studio has the address <code>{place.path}</code>. <Link href="/">Go to the start</Link>.
          </p>
        </section>
      );
  }
};

/** `/`: the token's project, else the last one used, else the server's default. */
const Home = ({ generation }: { generation: number }) => {
  const who = useApi<WhoAmIAnswer>("/api/whoami", { generation });
  useEffect(() => {
    if (who.loading || (who.error && who.error.status === 401)) return;
    const project = who.data?.token?.project ?? recentProjects()[0] ?? serverDefaultProject();
    navigate(pathOf({ view: "project", project }), true);
  }, [who.loading, who.data, who.error]);
  if (who.error?.status === 401) return <p class="muted">Give a token above to go on.</p>;
  if (who.error) return <p class="muted">{who.error.message}</p>;
  return <p class="muted">Loading…</p>;
};

const Header = ({ project, env, generation, onSignOut }: { project?: string; env?: string; generation: number; onSignOut: () => void }) => {
  const envs = useApi<EnvironmentRow[]>(project ? envsApi(project) : null, { generation, ...(project ? { liveProject: project } : {}) });
  const [draft, setDraft] = useState("");
  useEffect(() => setDraft(""), [project]);
  return (
    <header class="top">
      <Link href="/" class="brand">
        Tributary Studio
      </Link>
      <form
        class="switch"
        onSubmit={(e) => {
          e.preventDefault();
          const p = draft.trim();
          if (p) navigate(pathOf({ view: "project", project: p }));
        }}
      >
        <ProjectPicker project={project} generation={generation} />
        <label>
          other{" "}
          <input name="project" value={draft} list="recent-projects" size={10} placeholder="a project" onInput={(e) => setDraft(e.currentTarget.value)} aria-label="another project, by name" />
        </label>
        <datalist id="recent-projects">
          {recentProjects().map((p) => (
            <option key={p} value={p} />
          ))}
        </datalist>
        {project && (
          <label>
            environment{" "}
            <select
              name="env"
              aria-label="environment"
              value={env ?? ""}
              onChange={(e) => {
                const v = e.currentTarget.value;
                navigate(v ? pathOf({ view: "runs", project, env: v }) : pathOf({ view: "project", project }));
              }}
            >
              <option value="">(all: the tree)</option>
              {(envs.data ?? []).map((r) => (
                <option key={r.name} value={r.name}>
                  {r.name}
                  {r.archived ? " (archived)" : ""}
                </option>
              ))}
              {env && !(envs.data ?? []).some((r) => r.name === env) && <option value={env}>{env}</option>}
            </select>
          </label>
        )}
      </form>
      <ConnectionState />
      {token() && (
        <button type="button" class="link" onClick={onSignOut} title="forget the token kept for this tab">
          forget token
        </button>
      )}
    </header>
  );
};

/** Asks for an access token (docs/security.md); kept for this tab only. */
const TokenForm = ({ problem, onToken }: { problem: ApiError; onToken: (t: string) => void }) => {
  const [text, setText] = useState("");
  return (
    <form
      class="token"
      onSubmit={(e) => {
        e.preventDefault();
        if (text.trim()) onToken(text.trim());
      }}
    >
      <p role="alert">
        <strong>This server checks an access token.</strong> {token() ? "The token given was refused: " : ""}
        {forStudio(problem.message)}
      </p>
      <label>
        token <input name="token" type="password" autocomplete="off" value={text} onInput={(e) => setText(e.currentTarget.value)} autoFocus />
      </label>{" "}
      <button type="submit">Use this token</button>
      <p class="muted">Kept in this tab's session storage only; sent as <code>Authorization: Bearer</code> to this server.</p>
    </form>
  );
};
