/** `/projects/{p}/envs/{e}/assets/{asset}`: an asset's files (sizes, hashes, download), who persisted it and who restored it. */
import { useEffect, useState } from "preact/hooks";
import type { AssetAnswer } from "../../protocol/api.js";
import { blobPath } from "../../protocol/constants.js";
import { token } from "../api.js";
import { ErrorBox, Link, Loading } from "../components.js";
import { showTime } from "../format.js";
import { useApi } from "../hooks.js";
import { envApi, pathOf } from "../routes.js";
import { Preview } from "./preview.js";

/** Fetches a blob (with the token, which a plain link cannot send) and saves it under `name`. */
const download = async (url: string, name: string): Promise<void> => {
  const t = token();
  const res = await fetch(url, t ? { headers: { authorization: `Bearer ${t}` } } : {});
  if (!res.ok) throw new Error(`${res.status}: ${((await res.json().catch(() => ({}))) as { error?: string }).error ?? res.statusText}`);
  const href = URL.createObjectURL(await res.blob());
  const a = document.createElement("a");
  a.href = href;
  a.download = name.split("/").pop() || "file";
  a.click();
  setTimeout(() => URL.revokeObjectURL(href), 10_000);
};

export const AssetPage = ({ project, env, assetId }: { project: string; env: string; assetId: string }) => {
  const asset = useApi<AssetAnswer>(envApi(project, env, `/assets/${encodeURIComponent(assetId)}`));
  const [failed, setFailed] = useState<string | null>(null);
  const [previewed, setPreviewed] = useState<string | null>(null);
  // Escape closes the preview.
  useEffect(() => {
    if (previewed === null) return;
    const onKey = (e: KeyboardEvent) => void (e.key === "Escape" && setPreviewed(null));
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [previewed]);
  const a = asset.data;
  const p = a?.persisted;
  return (
    <section>
      <p class="crumbs">
        <Link href={pathOf({ view: "project", project })}>{project}</Link> / <Link href={pathOf({ view: "runs", project, env })}>{env}</Link> / asset{" "}
        <code>{assetId}</code>
      </p>
      <h1>Asset {p?.name ? <code>{p.name}</code> : <code>{assetId}</code>}</h1>
      {asset.error && <ErrorBox error={asset.error} what={`asset ${assetId}`} />}
      {asset.loading && <Loading />}
      {failed && <div class="error" role="alert">download failed: {failed}</div>}
      {a && p && (
        <>
          <p>
            Persisted {showTime(p.at)} (seq {p.seq}) in <code>{a.ref.env}</code> by{" "}
            {a.ref.env === env ? <Link href={pathOf({ view: "run", project, env, runId: p.runId, stepId: p.stepId, executionId: p.executionId })}>step {p.stepId} of run {p.runId}</Link> : `step ${p.stepId} of run ${p.runId}`}
            ; {p.entries.length} file(s), {p.totalSize} bytes.
          </p>
          <div class="scroll">
            <table>
              <thead>
                <tr>
                  <th>path</th>
                  <th>size</th>
                  <th>sha256</th>
                  <th></th>
                </tr>
              </thead>
              <tbody>
                {p.entries.map((e) => (
                  <tr key={e.path} data-path={e.path}>
                    <td>
                      <code>{e.path}</code>
                    </td>
                    <td>{e.size}</td>
                    <td>
                      <code class="hash">{e.sha256}</code>
                    </td>
                    <td>
                      <button type="button" class="link" aria-label={`download ${e.path}`} onClick={() => download(`${blobPath(project, env)}/${e.blobKey}`, e.path).catch((x: Error) => setFailed(x.message))}>
                        download
                      </button>{" "}
                      <button type="button" class="link" name="preview" aria-label={`preview ${e.path}`} aria-pressed={previewed === e.path} onClick={() => setPreviewed(previewed === e.path ? null : e.path)}>
                        preview
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {previewed && p.entries.some((e) => e.path === previewed) && (
            <>
              <h2>
                Preview of <code>{previewed}</code>
              </h2>
              {(() => {
                const e = p.entries.find((x) => x.path === previewed)!;
                return <Preview key={e.path} url={`${blobPath(project, env)}/${e.blobKey}`} path={e.path} size={e.size} />;
              })()}
            </>
          )}
          <h2>Restored</h2>
          {a.restores.length === 0 ? (
            <p class="muted">Not restored yet{a.local ? "" : " in this environment"}.</p>
          ) : (
            <ul>
              {a.restores.map((r) => (
                <li key={r.executionId}>
                  {showTime(r.at)} by <Link href={pathOf({ view: "run", project, env, runId: r.runId, stepId: r.stepId, executionId: r.executionId })}>step {r.stepId} of run {r.runId}</Link>
                  {r.fromEnv ? ` (from ${r.fromEnv})` : ""}
                  {r.to ? ` into ${r.to}` : ""}
                </li>
              ))}
            </ul>
          )}
        </>
      )}
    </section>
  );
};
