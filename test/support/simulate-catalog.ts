/**
 * What the simulated environment runs: two repositories of workflows and
 * tasks, with realistic arguments, results, errors and options. Used only by
 * `simulate.ts`; every draw goes through the caller's seeded {@link Random}.
 */
import { createHash } from "node:crypto";
import type { ParameterManifest, StepOptions, TargetManifest, Value } from "../../src/events/index.js";
import type { Random } from "./prng.js";

/** A call a workflow makes: a target and its arguments. */
export interface Call {
  readonly def: TargetDef;
  readonly args: readonly Value[];
}

interface Common {
  readonly repository: string;
  readonly name: string;
  readonly parameters: readonly ParameterManifest[];
  readonly options: StepOptions;
}

/** A task: leaf code that runs on an agent and returns a value or throws. */
export interface TaskDef extends Common {
  readonly kind: "task";
  /** Simulated running time range, ms. */
  readonly durationMs: readonly [number, number];
  /** Name of the asset this task persists before returning. */
  readonly persists?: string;
  /** Name of an asset (persisted earlier) this task restores when it starts. */
  readonly restores?: string;
  /** Probability that the result is too large to travel inline. */
  readonly blobChance: number;
  readonly result: (rng: Random, args: readonly Value[], now: number) => Value;
}

/** A workflow: calls steps in batches (a fan-out per batch) and then returns. */
export interface WorkflowDef extends Common {
  readonly kind: "workflow";
  readonly plan: (rng: Random, args: readonly Value[], now: number) => readonly (readonly Call[])[];
}

export type TargetDef = TaskDef | WorkflowDef;

export const DATA_REPO = "github.com/acme/data-pipelines";
export const ML_REPO = "github.com/acme/ml-platform";
export const REPOSITORIES = [DATA_REPO, ML_REPO] as const;

const TABLES = ["orders", "customers", "payments", "shipments", "products", "inventory", "refunds", "sessions", "invoices"];
const DATASETS = ["clickstream", "reviews", "fraud-signals"];
const MODELS = ["xgboost", "resnet50", "bert-base"];
/** Few distinct dates, so that runs repeat work and caches and deferrals get hit. */
const DAYS = ["2025-02-24", "2025-02-25", "2025-02-26", "2025-02-27", "2025-02-28"];

const param = (name: string, annotation?: string, dflt?: string): ParameterManifest => ({
  name,
  ...(annotation === undefined ? {} : { annotation }),
  ...(dflt === undefined ? {} : { default: dflt }),
});

/**
 * Builds the catalogue. `gpu` says whether a GPU agent exists: without one,
 * training must not require it or it would never be assigned.
 */
export const buildCatalog = (gpu: boolean) => {
  const extractTable: TaskDef = {
    kind: "task",
    repository: DATA_REPO,
    name: "extractTable",
    parameters: [param("spec", "{ table: string; day: string; source: string }")],
    options: {
      retries: { limit: 3, delayMs: 200, factor: 2, maxDelayMs: 5_000 },
      timeoutMs: 900,
      cache: { namespace: "extract-v3", maxAgeMs: 86_400_000 },
      defer: true,
    },
    durationMs: [40, 300],
    blobChance: 0.2,
    result: (rng, args, now) => {
      const spec = args[0] as { table: string; day: string };
      const rows = rng.int(1_000, 2_000_000);
      return {
        table: spec.table,
        day: spec.day,
        rows,
        bytes: BigInt(rows) * BigInt(rng.int(120, 900)),
        watermark: new Date(now - rng.int(0, 60_000)),
        checksum: rng.bytes(16),
        partitions: Array.from({ length: rng.int(1, 3) }, (_, i) => ({ key: `p${i}`, rows: Math.floor(rows / 3) })),
      };
    },
  };
  const transform: TaskDef = {
    kind: "task",
    repository: DATA_REPO,
    name: "transformTable",
    parameters: [param("spec", "{ table: string; day: string; mode: 'full' | 'incremental' }")],
    options: { retries: { limit: 2, delayMs: 100, factor: 3, maxDelayMs: 2_000 }, memo: true },
    durationMs: [20, 150],
    blobChance: 0,
    result: (rng, args) => {
      const spec = args[0] as { table: string };
      const rowsIn = rng.int(1_000, 500_000);
      const rejected = rng.chance(0.3) ? rng.int(1, 40) : 0;
      return {
        table: spec.table,
        rowsIn,
        rowsOut: rowsIn - rejected,
        rejected,
        warnings: rejected > 0 ? [`${rejected} rows with a null customer_id were dropped`] : [],
      };
    },
  };
  const loadWarehouse: TaskDef = {
    kind: "task",
    repository: DATA_REPO,
    name: "loadWarehouse",
    parameters: [param("tables", "string[]"), param("day", "string")],
    options: { retries: { limit: 2, delayMs: 300, factor: 2, maxDelayMs: 3_000, retryOn: ["ConnectionResetError"] }, timeoutMs: 1_200 },
    durationMs: [60, 400],
    blobChance: 0,
    result: (rng, _args, now) => ({
      snapshotId: `snap-${rng.hex(12)}`,
      loadedRows: BigInt(rng.int(10_000, 9_000_000)),
      committedAt: new Date(now),
    }),
  };
  const sendReport: TaskDef = {
    kind: "task",
    repository: DATA_REPO,
    name: "sendReport",
    parameters: [param("spec", "{ day: string; recipients: string[] }")],
    options: { delayMs: 50 },
    durationMs: [10, 60],
    blobChance: 0,
    result: (rng) => ({ messageId: `<${rng.hex(16)}@mail.acme.dev>` }),
  };
  const dailyEtl: WorkflowDef = {
    kind: "workflow",
    repository: DATA_REPO,
    name: "dailyEtl",
    parameters: [param("day", "string"), param("notify", "boolean", "true")],
    options: {},
    plan: (rng, args) => {
      const day = args[0] as string;
      const tables = rng.sample(TABLES, rng.int(2, 6));
      const batches: Call[][] = [
        tables.map((table) => ({ def: extractTable, args: [{ table, day, source: "postgres://replica-2.db.internal/shop" }] })),
        tables.map((table) => ({ def: transform, args: [{ table, day, mode: rng.chance(0.8) ? "incremental" : "full" }] })),
        [{ def: loadWarehouse, args: [tables, day] }],
      ];
      if (args[1] !== false) {
        batches.push([{ def: sendReport, args: [{ day, recipients: rng.sample(["data@acme.dev", "cfo@acme.dev", "ops@acme.dev"], 2) }] }]);
      }
      return batches;
    },
  };
  const backfill: WorkflowDef = {
    kind: "workflow",
    repository: DATA_REPO,
    name: "backfill",
    parameters: [param("from", "string"), param("days", "number", "3")],
    options: {},
    plan: (_rng, args) => {
      const from = DAYS.indexOf(args[0] as string);
      const days = DAYS.slice(from, from + (args[1] as number));
      const batches: Call[][] = [];
      for (let i = 0; i < days.length; i += 2) {
        batches.push(days.slice(i, i + 2).map((day) => ({ def: dailyEtl, args: [day, false] })));
      }
      return batches;
    },
  };

  const prepareDataset: TaskDef = {
    kind: "task",
    repository: ML_REPO,
    name: "prepareDataset",
    parameters: [param("dataset", "string"), param("version", "string", "'latest'")],
    options: { retries: { limit: 1, delayMs: 500, factor: 2, maxDelayMs: 2_000 }, cache: { namespace: "ds-2" }, defer: true },
    durationMs: [80, 400],
    persists: "dataset",
    blobChance: 0,
    result: (rng, args) => ({
      dataset: args[0] as string,
      rows: rng.int(50_000, 5_000_000),
      features: rng.int(12, 300),
      split: { train: 0.8, validation: 0.1, test: 0.1 },
      schemaHash: rng.bytes(32),
    }),
  };
  const trainModel: TaskDef = {
    kind: "task",
    repository: ML_REPO,
    name: "trainModel",
    parameters: [param("dataset", "string"), param("model", "string"), param("params", "TrainParams")],
    options: {
      retries: { limit: 2, delayMs: 400, factor: 2, maxDelayMs: 4_000, retryOn: ["CudaOutOfMemoryError", "ConnectionResetError"] },
      timeoutMs: 1_500,
      ...(gpu ? { requires: { gpu: ["a100", "h100"] } } : {}),
    },
    durationMs: [200, 1_000],
    restores: "dataset",
    persists: "model",
    blobChance: 0.6,
    result: (rng, args) => ({
      model: args[1] as string,
      epochs: rng.int(3, 40),
      loss: Math.round(rng.float() * 1e6) / 1e6,
      history: Array.from({ length: 5 }, () => Math.round(rng.float() * 1e4) / 1e4),
    }),
  };
  const evaluate: TaskDef = {
    kind: "task",
    repository: ML_REPO,
    name: "evaluateModel",
    parameters: [param("model", "string"), param("metrics", "string[]")],
    options: { retries: { limit: 1, delayMs: 100, factor: 2, maxDelayMs: 1_000 } },
    durationMs: [30, 200],
    restores: "model",
    blobChance: 0,
    result: (rng) => {
      const n = () => rng.int(0, 5_000);
      return {
        accuracy: Math.round(rng.float() * 1e4) / 1e4,
        f1: Math.round(rng.float() * 1e4) / 1e4,
        auc: Math.round(rng.float() * 1e4) / 1e4,
        confusion: [
          [n(), n()],
          [n(), n()],
        ],
      };
    },
  };
  const publishModel: TaskDef = {
    kind: "task",
    repository: ML_REPO,
    name: "publishModel",
    parameters: [param("model", "string"), param("registry", "string")],
    options: {},
    durationMs: [20, 120],
    blobChance: 0,
    result: (rng, _args, now) => ({ version: `1.${rng.int(0, 30)}.${rng.int(0, 9)}`, publishedAt: new Date(now) }),
  };
  const trainPipeline: WorkflowDef = {
    kind: "workflow",
    repository: ML_REPO,
    name: "trainPipeline",
    parameters: [param("spec", "{ dataset: string; model: string; trials: number }")],
    options: {},
    plan: (rng, args) => {
      const { dataset, model, trials } = args[0] as { dataset: string; model: string; trials: number };
      const version = `v${rng.int(1, 2)}`;
      return [
        [{ def: prepareDataset, args: [dataset, version] }],
        Array.from({ length: trials }, (_, i) => ({
          def: trainModel,
          args: [
            dataset,
            model,
            { lr: [0.1, 0.01, 0.001][i % 3]!, depth: rng.int(3, 12), seed: BigInt(rng.int(0, 2 ** 31)) * 4_294_967_296n },
          ],
        })),
        [{ def: evaluate, args: [model, ["accuracy", "f1", "auc"]] }],
        [{ def: publishModel, args: [model, "s3://acme-models/registry"] }],
      ];
    },
  };

  const all: readonly TargetDef[] = [
    dailyEtl,
    backfill,
    extractTable,
    transform,
    loadWarehouse,
    sendReport,
    trainPipeline,
    prepareDataset,
    trainModel,
    evaluate,
    publishModel,
  ];

  /** A root call for a new run: mostly daily ETLs, some training, a few backfills. */
  const rootCall = (rng: Random): Call => {
    const r = rng.float();
    if (r < 0.5) return { def: dailyEtl, args: [rng.pick(DAYS), rng.chance(0.7)] };
    if (r < 0.8) return { def: trainPipeline, args: [{ dataset: rng.pick(DATASETS), model: rng.pick(MODELS), trials: rng.int(1, 3) }] };
    return { def: backfill, args: [rng.pick(DAYS.slice(0, 3)), rng.int(2, 3)] };
  };

  /** The manifest an agent registers for one repository. */
  const manifest = (repository: string): TargetManifest[] =>
    all
      .filter((d) => d.repository === repository)
      .map((d) => ({ name: d.name, kind: d.kind, parameters: d.parameters, options: d.options }));

  return { all, rootCall, manifest };
};

export type Catalog = ReturnType<typeof buildCatalog>;

/** Lower-case hex sha256 of a string. */
export const sha256 = (s: string): string => createHash("sha256").update(s).digest("hex");

/** A stable text of a value, for cache and memo keys (JSON with tagged extras). */
export const canonical = (v: Value): string =>
  JSON.stringify(v, (_k, x: unknown) => {
    if (typeof x === "bigint") return `bigint:${x}`;
    if (x instanceof Uint8Array) return `bytes:${Buffer.from(x).toString("base64")}`;
    return x;
  });

/** An error as task code would throw it, retryable or not. */
export const taskError = (rng: Random, retryable: boolean, repository: string, target: string) => {
  const [type, message] = retryable
    ? rng.pick([
        ["ConnectionResetError", "read ECONNRESET from replica-2.db.internal:5432"],
        ["TimeoutError", "upstream did not answer within 30000 ms"],
        ["ServiceUnavailableError", "503 Service Unavailable from https://api.internal.acme.dev/v2/ingest"],
        ["CudaOutOfMemoryError", "CUDA out of memory: tried to allocate 2.00 GiB (GPU 0; 39.59 GiB total capacity)"],
      ] as const)
    : rng.pick([
        ["ValidationError", "column \"amount\" has 3 values that are not valid decimals"],
        ["PermissionError", "permission denied for table payments"],
        ["SchemaMismatchError", "expected 14 columns in the source, found 15 (new column \"coupon_code\")"],
        ["TypeError", "Cannot read properties of undefined (reading 'id')"],
      ] as const);
  const file = `/srv/agent/repos/${repository.split("/").pop()}/src/${target}.ts`;
  return {
    type,
    message,
    ...(rng.chance(0.6)
      ? {
          stack:
            `${type}: ${message}\n    at ${target} (${file}:${rng.int(10, 200)}:${rng.int(3, 40)})\n` +
            `    at runTask (/srv/agent/node_modules/@tributary/agent/dist/runtime.js:${rng.int(100, 400)}:22)`,
        }
      : {}),
    retryable,
  };
};
