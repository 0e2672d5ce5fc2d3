/**
 * Actions, each the same call as its CLI command: submit a workflow
 * (`tributary submit`), cancel a run (`runs cancel`), re-run a step here or
 * in a branch, with or without cascade (`runs rerun [--env B] [--cascade]`).
 * A button the caller's token may not use is disabled, its title saying why
 * (may.ts); a refusal still shows the server's message.
 */
import { useState } from "preact/hooks";
import type { AgentsAnswer, CancelAnswer, EnvironmentRow, RerunAnswer, SubmitAnswer } from "../../protocol/api.js";
import { api, ApiError } from "../api.js";
import { ErrorBox, Link, NotSent } from "../components.js";
import { navigate, useApi } from "../hooks.js";
import { envApi, envsApi, pathOf } from "../routes.js";
import { refusedProps, useRefusal } from "../may.js";

const asApiError = (e: unknown): ApiError => (e instanceof ApiError ? e : new ApiError(0, (e as Error).message));

type TargetManifest = AgentsAnswer["manifests"][number]["targets"][number];

/** The arguments of the form: each field's JSON, trailing empty ones left out (their defaults apply). */
export const argumentsOf = (fields: readonly string[]): { ok: true; value: unknown[] } | { ok: false; message: string } => {
  let last = fields.length;
  while (last > 0 && fields[last - 1]!.trim() === "") last--;
  const out: unknown[] = [];
  for (let i = 0; i < last; i++) {
    const text = fields[i]!.trim();
    if (text === "") return { ok: false, message: `argument ${i + 1} is empty but a later one is given` };
    try {
      out.push(JSON.parse(text));
    } catch {
      return { ok: false, message: `argument ${i + 1} is not valid JSON: ${text.length > 80 ? text.slice(0, 80) + "…" : text}` };
    }
  }
  return { ok: true, value: out };
};

/** Submit a run: a target from the manifests, its parameters as fields, or the arguments as raw JSON. */
export const SubmitForm = ({ project, env }: { project: string; env: string }) => {
  const agents = useApi<AgentsAnswer>(envApi(project, env, "/agents"), { pollMs: () => 10_000 });
  const targets = (agents.data?.manifests ?? []).flatMap((m) => m.targets.filter((t) => t.kind === "workflow").map((t) => ({ key: `${m.repository}:${t.name}`, t })));
  const [chosen, setChosen] = useState("");
  const [fields, setFields] = useState<string[]>([]);
  const [raw, setRaw] = useState(false);
  const [rawText, setRawText] = useState("[]");
  const [problem, setProblem] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const refusal = useRefusal("submitRun", project, env);
  const key = chosen || targets[0]?.key || "";
  const manifest: TargetManifest | undefined = targets.find((x) => x.key === key)?.t;
  const submit = async () => {
    setProblem(null);
    let args: unknown[];
    if (raw) {
      let v: unknown;
      try {
        v = JSON.parse(rawText);
      } catch (e) {
        return setProblem(new NotSent(`the arguments are not valid JSON: ${(e as Error).message}`));
      }
      if (!Array.isArray(v)) return setProblem(new NotSent("the arguments must be a JSON array, one element per argument"));
      args = v;
    } else {
      const r = argumentsOf(fields);
      if (!r.ok) return setProblem(new NotSent(r.message));
      args = r.value;
    }
    setBusy(true);
    try {
      const a = await api<SubmitAnswer>(envApi(project, env, "/runs"), { method: "POST", body: { target: key, arguments: args } });
      navigate(pathOf({ view: "run", project, env, runId: a.runId }));
    } catch (e) {
      setProblem(asApiError(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <details
      class="submit-form"
      onKeyDown={(e) => {
        // Escape folds the form, the focus back on its summary.
        if (e.key !== "Escape" || !e.currentTarget.open) return;
        e.currentTarget.open = false;
        e.currentTarget.querySelector("summary")?.focus();
      }}
    >
      <summary>Submit a workflow</summary>
      {agents.error && <ErrorBox error={agents.error} what="targets" />}
      {agents.data && targets.length === 0 && <p class="muted">No repository is registered here yet: start an agent first.</p>}
      {targets.length > 0 && (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void submit();
          }}
        >
          <label>
            target{" "}
            <select name="submit-target" value={key} onChange={(e) => (setChosen(e.currentTarget.value), setFields([]))}>
              {targets.map((x) => (
                <option key={x.key} value={x.key}>
                  {x.key}
                </option>
              ))}
            </select>
          </label>{" "}
          <label>
            <input type="checkbox" name="raw" checked={raw} onChange={(e) => setRaw(e.currentTarget.checked)} /> raw JSON
          </label>
          {raw ? (
            <label class="block">
              arguments (a JSON array)
              <textarea name="arguments" rows={3} value={rawText} onInput={(e) => setRawText(e.currentTarget.value)} />
            </label>
          ) : (
            <div class="params">
              {(manifest?.parameters ?? []).length === 0 && <p class="muted">This workflow takes no parameters.</p>}
              {(manifest?.parameters ?? []).map((p, i) => (
                <label key={`${key}/${p.name}`} class="block">
                  <code>{p.name}</code>
                  {p.annotation ? <span class="muted">: {p.annotation}</span> : null}
                  {p.default !== undefined ? <span class="muted"> = {p.default}</span> : null}
                  <input
                    name={`param-${p.name}`}
                    placeholder={p.default !== undefined ? `JSON (empty: ${p.default})` : "JSON, e.g. 42 or \"text\""}
                    value={fields[i] ?? ""}
                    onInput={(e) => {
                      const v = e.currentTarget.value;
                      setFields((f) => {
                        const n = [...f];
                        while (n.length <= i) n.push("");
                        n[i] = v;
                        return n;
                      });
                    }}
                  />
                </label>
              ))}
            </div>
          )}
          <button type="submit" disabled={busy} {...refusedProps(refusal)}>
            Submit
          </button>
          {refusal && <span class="muted refusal"> {refusal}</span>}
        </form>
      )}
      {problem && <ErrorBox error={problem} what="submit" />}
    </details>
  );
};

/**
 * Cancel a run (what is in flight stops; a finished run keeps its outcome).
 * `run`: its status and executions in flight; a run that has ended with none
 * (no re-run under way) has nothing to cancel, and the button says so.
 */
export const CancelButton = ({ project, env, runId, run }: { project: string; env: string; runId: string; run: { status: string; pending: number } }) => {
  const [problem, setProblem] = useState<ApiError | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const refusal = useRefusal("cancelRun", project, env) ?? (run.status !== "running" && run.pending === 0 ? `the run has ended (${run.status}): nothing to cancel` : undefined);
  return (
    <span class="action">
      <button
        type="button"
        name="cancel"
        disabled={busy}
        {...refusedProps(refusal)}
        onClick={async () => {
          setProblem(null);
          setBusy(true);
          try {
            const a = await api<CancelAnswer>(envApi(project, env, `/runs/${encodeURIComponent(runId)}/cancel`), { method: "POST", body: {} });
            setDone(a.cancelled ? (a.already ? "it was already cancelled" : "cancelled") : `it had finished (${a.status}); ${a.stopped} re-running execution(s) stopped`);
          } catch (e) {
            setProblem(asApiError(e));
          } finally {
            setBusy(false);
          }
        }}
      >
        Cancel run
      </button>
      {done && <span class="muted"> {done}</span>}
      {problem && <ErrorBox error={problem} what="cancel" />}
    </span>
  );
};

/** Re-run a step here or in a chosen branch, with or without cascade. A re-run in a branch opens the step there. */
export const RerunControls = ({ project, env, runId, stepId }: { project: string; env: string; runId: string; stepId: string }) => {
  const envs = useApi<EnvironmentRow[]>(envsApi(project));
  const [where, setWhere] = useState(env);
  const [cascade, setCascade] = useState(false);
  const [problem, setProblem] = useState<ApiError | null>(null);
  const [done, setDone] = useState<RerunAnswer | null>(null);
  const [busy, setBusy] = useState(false);
  const others = (envs.data ?? []).filter((e) => e.name !== env && !e.archived);
  const refusal = useRefusal("rerunStep", project, where);
  return (
    <div class="rerun">
      <label>
        re-run in{" "}
        <select name="rerun-env" value={where} onChange={(e) => setWhere(e.currentTarget.value)}>
          <option value={env}>{env} (here)</option>
          {others.map((e) => (
            <option key={e.name} value={e.name}>
              {e.name}
            </option>
          ))}
        </select>
      </label>{" "}
      <label title="also re-run every step that depends on this one's result">
        <input type="checkbox" name="cascade" checked={cascade} onChange={(e) => setCascade(e.currentTarget.checked)} /> cascade
      </label>{" "}
      <button
        type="button"
        name="rerun"
        disabled={busy}
        {...refusedProps(refusal)}
        onClick={async () => {
          setProblem(null);
          setDone(null);
          setBusy(true);
          try {
            const a = await api<RerunAnswer>(envApi(project, where, `/runs/${encodeURIComponent(runId)}/steps/${encodeURIComponent(stepId)}/rerun`), { method: "POST", body: { cascade } });
            setDone(a);
            if (where !== env) navigate(pathOf({ view: "run", project, env: where, runId, stepId, executionId: a.executionId }));
          } catch (e) {
            setProblem(asApiError(e));
          } finally {
            setBusy(false);
          }
        }}
      >
        Re-run step
      </button>
      {refusal && <span class="muted refusal"> {refusal}</span>}
      {done && (
        <p class="muted" role="status">
          new execution <Link href={pathOf({ view: "run", project, env: where, runId, stepId, executionId: done.executionId })}>{done.executionId}</Link>
          {done.warning ? ` — ${done.warning}` : ""}
        </p>
      )}
      {problem && <ErrorBox error={problem} what="re-run" />}
    </div>
  );
};
