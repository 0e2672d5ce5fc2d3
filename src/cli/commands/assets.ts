/** `tributary assets ls | show ASSET | download ASSET`: see ASSETS in ../table.ts. */
import { resolve } from "node:path";
import type { AssetRef } from "../../protocol/messages.js";
import { toJson } from "../../protocol/json.js";
import { CliError, clientOf, CREDENTIALS_REFUSED, forbiddenHint, unauthenticatedHint, type Target } from "../client.js";
import { targetOf } from "../options.js";
import { ASSETS } from "../table.js";
import { parse, UsageError, usageOf } from "../usage.js";

export const run = async (argv: string[]): Promise<number> => {
  // Arguments, checked against the table.
  const parsed = parse(ASSETS, argv);
  const { values, positionals } = parsed;
  const t = targetOf(parsed);
  const client = clientOf(t);
  const [sub, assetId] = positionals;

  if (sub === "ls") {
    const assets = await client.listAssets(values.run ? { run: values.run } : {});
    if (values.json) console.log(toJson(assets));
    else {
      console.log(`${"asset".padEnd(40)}  ${"name".padEnd(16)}  ${"files".padStart(5)}  ${"bytes".padStart(12)}  run / step`);
      for (const a of assets) {
        const p = a.persisted!;
        console.log(`${a.assetId.padEnd(40)}  ${(p.name ?? "").padEnd(16)}  ${String(p.entries.length).padStart(5)}  ${String(p.totalSize).padStart(12)}  ${p.runId} / ${p.stepId}`);
      }
    }
    return 0;
  }
  if (sub === "show" && assetId) {
    const a = await client.asset(assetId);
    if (values.json) {
      console.log(toJson(a));
      return 0;
    }
    const p = a.persisted!;
    console.log(`asset ${a.assetId}${p.name ? ` "${p.name}"` : ""} in ${a.ref.env}: persisted by run ${p.runId} step ${p.stepId} (${p.executionId})`);
    if (p.metadata) console.log(`metadata: ${toJson(p.metadata)}`);
    for (const e of p.entries) console.log(`  ${String(e.size).padStart(12)}  ${e.sha256.slice(0, 16)}…  ${e.path}`);
    console.log(`  ${String(p.totalSize).padStart(12)}  bytes in ${p.entries.length} files; restored ${a.restores.length} times`);
    return 0;
  }
  if (sub === "download" && assetId) {
    const a = await client.asset(assetId);
    const dir = resolve(values.to ?? assetId);
    const files = await downloadAsset(t, { project: t.project, env: t.env }, a.ref, dir);
    if (values.json) console.log(toJson({ assetId, dir, files }));
    else console.log(`downloaded ${files.length} files of ${assetId} into ${dir}`);
    return 0;
  }
  throw new UsageError(`unknown subcommand ${JSON.stringify(sub)}`, usageOf(ASSETS));
};

/** Streams every file of the asset into `dir` through the environment it was found in, checking sizes and hashes; never writes outside `dir`. */
const downloadAsset = async (t: Target, scope: { project: string; env: string }, ref: AssetRef, dir: string): Promise<string[]> => {
  const { restoreFiles } = await import("../../agent/assets.js");
  const { BlobHttpError } = await import("../../agent/blob-client.js");
  try {
    return await restoreFiles(t.server, ref, dir, { ...scope, ...(t.ca === undefined ? {} : { ca: t.ca }), ...(t.token === undefined ? {} : { token: t.token }) });
  } catch (e) {
    // The blob API refusing the token: as for any other route.
    const http = [e, (e as Error).cause].find((x) => x instanceof BlobHttpError);
    const status = http instanceof BlobHttpError ? http.status : undefined;
    if (status === 401) throw new CliError(unauthenticatedHint((e as Error).message), CREDENTIALS_REFUSED);
    if (status === 403) throw new CliError(forbiddenHint((e as Error).message, "download"), CREDENTIALS_REFUSED);
    throw new CliError((e as Error).message, 2);
  }
};
