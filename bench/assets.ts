/**
 * Asset benchmark, end to end through a server process and a real agent:
 * persist (hash, probe, upload) and restore (download, verify, write) of one
 * file of N MiB, on each backend (files under the data directory with the
 * embedded log; the JetStream object store with NATS). Also a second persist
 * of the same bytes, which uploads nothing; and a persist of many small files
 * (each blob new to the environment: an upload and its `BlobStored` commit),
 * then of the same files again (a probe each, nothing uploaded).
 */
import { resolve } from "node:path";
import { runWorkflow, withServer, type WorkflowRow } from "./workflows.js";

const FLOWS = resolve(import.meta.dirname, "fixtures/asset-flows.ts");

export const runAssetBench = async (options: { adapters: readonly ("embedded" | "jetstream")[]; mb: number; files: number }): Promise<WorkflowRow[]> => {
  const rows: WorkflowRow[] = [];
  for (const adapter of options.adapters) {
    await withServer(adapter, { modules: [FLOWS] }, async ({ url }) => {
      const { value: v } = await runWorkflow<{ persistMs: number; persistDedupMs: number; restoreMs: number }>(url, "benchassets:round_trip", [options.mb]);
      const rate = (ms: number) => `${((options.mb * 1024 * 1024) / 1e6 / (ms / 1000)).toFixed(0)} MB/s (${ms.toFixed(0)} ms)`;
      rows.push({ adapter, what: `persist ${options.mb} MiB (hash, upload)`, value: rate(v.persistMs) });
      rows.push({ adapter, what: `persist the same ${options.mb} MiB again (hash only)`, value: rate(v.persistDedupMs) });
      rows.push({ adapter, what: `restore ${options.mb} MiB (download, verify)`, value: rate(v.restoreMs) });
      const n = options.files;
      const { value: f } = await runWorkflow<{ newMs: number; againMs: number }>(url, "benchassets:small_files", [n]);
      const per = (ms: number) => `${(ms / n).toFixed(2)} ms/file (${ms.toFixed(0)} ms)`;
      rows.push({ adapter, what: `persist ${n} small files, new (probe, upload)`, value: per(f.newMs) });
      rows.push({ adapter, what: `persist the same ${n} files again (probe only)`, value: per(f.againMs) });
    });
  }
  return rows;
};
