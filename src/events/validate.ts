/**
 * Shape checks for decoded events: the decoder trusts nothing it reads.
 *
 * A tiny combinator set rather than a schema library: each check returns
 * `undefined` when the value fits, or a message naming the path that does
 * not. Pure.
 */
import { ID, isSortableId } from "./ids.js";
import { TOKEN_ID } from "./tokens.js";
import { CURRENT_VERSION, type EventType } from "./types.js";

export type Check = (v: unknown, path: string) => string | undefined;

const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array) && !(v instanceof Date);

export const str: Check = (v, p) => (typeof v === "string" ? undefined : `${p} must be a string`);
export const num: Check = (v, p) => (typeof v === "number" && Number.isFinite(v) ? undefined : `${p} must be a finite number`);
export const int: Check = (v, p) => (Number.isSafeInteger(v) ? undefined : `${p} must be an integer`);
export const nat: Check = (v, p) => (Number.isSafeInteger(v) && (v as number) >= 0 ? undefined : `${p} must be a whole number >= 0`);
export const bool: Check = (v, p) => (typeof v === "boolean" ? undefined : `${p} must be a boolean`);
/** Any value a codec can carry (user arguments and results). */
export const value: Check = (v, p) => (v === undefined ? `${p} is missing` : undefined);
export const id: Check = (v, p) => (isSortableId(v) ? undefined : `${p} must be a 26-character sortable id`);
export const lit =
  (...options: readonly (string | null)[]): Check =>
  (v, p) =>
    options.includes(v as string) ? undefined : `${p} must be one of ${options.map((o) => JSON.stringify(o)).join(", ")}`;

export const opt =
  (c: Check): Check =>
  (v, p) =>
    v === undefined ? undefined : c(v, p);

export const arr =
  (c: Check): Check =>
  (v, p) => {
    if (!Array.isArray(v)) return `${p} must be an array`;
    for (let i = 0; i < v.length; i++) {
      const e = c(v[i], `${p}[${i}]`);
      if (e) return e;
    }
    return undefined;
  };

export const record =
  (c: Check): Check =>
  (v, p) => {
    if (!isObj(v)) return `${p} must be an object`;
    for (const [k, x] of Object.entries(v)) {
      const e = c(x, `${p}.${k}`);
      if (e) return e;
    }
    return undefined;
  };

export const obj =
  (fields: Readonly<Record<string, Check>>): Check =>
  (v, p) => {
    if (!isObj(v)) return `${p} must be an object`;
    for (const [k, c] of Object.entries(fields)) {
      const e = c(v[k], `${p}.${k}`);
      if (e) return e;
    }
    return undefined;
  };

export const union =
  (tag: string, cases: Readonly<Record<string, Check>>): Check =>
  (v, p) => {
    if (!isObj(v)) return `${p} must be an object`;
    // Own keys only: a tag such as "constructor" or "__proto__" must not reach Object.prototype.
    const t = v[tag];
    const c = typeof t === "string" && Object.hasOwn(cases, t) ? cases[t] : undefined;
    return c ? c(v, p) : `${p}.${tag} must be one of ${Object.keys(cases).join(", ")}`;
  };

// ---------------------------------------------------------------------------
// The shapes of the current versions

const target = obj({ repository: str, target: str });
const blob = obj({ key: str, size: nat, sha256: str });
const result = union("kind", { inline: obj({ value }), blob: obj({ blob }) });
const tags = record(arr(str));
const retry = obj({ limit: nat, delayMs: nat, factor: num, maxDelayMs: nat, retryOn: opt(arr(str)) });
const options = obj({
  retries: opt(retry),
  timeoutMs: opt(nat),
  requires: opt(tags),
  delayMs: opt(nat),
  cache: opt(obj({ maxAgeMs: opt(nat), namespace: opt(str), key: opt(str) })),
  memo: opt(bool),
  defer: opt(bool),
  wait: opt(bool),
  concurrency: opt(arr(obj({ key: str, limit: (v, p) => (Number.isSafeInteger(v) && (v as number) >= 1 ? undefined : `${p} must be a whole number >= 1`) }))),
  group: opt(str),
  recurrent: opt(obj({ delayMs: nat })),
});
const execRef = obj({ runId: str, stepId: str, executionId: str });
const exec = { executionId: str, stepId: str };

/** The `data` check of the current version of each event type. */
export const DATA: Readonly<Record<EventType, Check>> = {
  RunSubmitted: obj({
    target,
    arguments: arr(value),
    argumentsBlob: opt(blob),
    rootStepId: str,
    idempotencyKey: opt(str),
    parent: opt(execRef),
    callId: opt(str),
    branchedFrom: opt(obj({ env: str, seq: nat })),
  }),
  RunCancelled: obj({ reason: str }),
  StepScheduled: obj({
    stepId: str,
    target,
    kind: lit("workflow", "task"),
    arguments: arr(value),
    argumentsBlob: opt(blob),
    options,
    cacheKey: opt(str),
    memoKey: opt(str),
    parentExecutionId: opt(str),
    callId: opt(str),
  }),
  ExecutionCreated: obj({
    ...exec,
    attempt: int,
    reason: lit("first", "retry", "rerun", "resume", "recur"),
    notBefore: opt(nat),
    memoKey: opt(str),
    resumes: opt(str),
    resumeWhen: opt(arr(str)),
  }),
  ExecutionAssigned: obj({ ...exec, agentId: str }),
  ExecutionStarted: obj(exec),
  ExecutionSucceeded: obj({ ...exec, result }),
  ExecutionFailed: obj({
    ...exec,
    error: obj({ type: str, message: str, stack: opt(str), retryable: bool }),
  }),
  ExecutionCancelled: obj({ ...exec, reason: str }),
  ExecutionTimedOut: obj({ ...exec, timeoutMs: nat }),
  ExecutionAbandoned: obj({
    ...exec,
    agentId: str,
    reason: str,
    cause: opt(lit("server-restart", "agent-lost", "not-running", "worker-restarted", "agent-stopping")),
  }),
  StepResultReused: obj({
    stepId: str,
    cacheKey: str,
    source: obj({ env: str, runId: str, stepId: str, executionId: str, seq: nat }),
    result,
  }),
  StepDeferred: obj({ stepId: str, to: execRef }),
  CallResumed: obj({ executionId: str, callId: str, resumedCallId: str, step: obj({ runId: str, stepId: str }) }),
  AssetPersisted: obj({
    assetId: str,
    ...exec,
    name: opt(str),
    metadata: opt(record(value)),
    entries: arr(obj({ path: str, size: nat, sha256: str, blobKey: str })),
  }),
  AssetRestored: obj({ assetId: str, ...exec, fromEnv: opt(str), to: opt(str) }),
  ManifestRegistered: obj({
    repository: str,
    agentId: str,
    targets: arr(
      obj({
        name: str,
        kind: lit("workflow", "task"),
        parameters: arr(obj({ name: str, annotation: opt(str), default: opt(str) })),
        options,
        codeHash: opt(str),
        arity: opt(obj({ min: nat, max: opt(nat) })),
      }),
    ),
  }),
  AgentConnected: obj({ agentId: str, tags, repositories: arr(str), concurrency: nat }),
  AgentDisconnected: obj({ agentId: str, reason: str }),
  EnvironmentCreated: obj({ project: str, env: str, base: opt(str) }),
  EnvironmentBranched: obj({ project: str, env: str, parent: str, at: nat }),
  EnvironmentRebased: obj({ base: (v, p) => (v === null ? undefined : str(v, p)) }),
  EnvironmentArchived: obj({ reason: opt(str) }),
  TokenCreated: obj({
    tokenId: str,
    name: opt(str),
    project: str,
    envs: arr(str),
    role: lit("read", "submit", "agent", "admin"),
    hash: str,
    expiresAt: opt(nat),
  }),
  TokenRevoked: obj({ tokenId: str, reason: opt(str) }),
  BlobStored: obj({ key: str, size: nat }),
  CheckpointSaved: obj({ ...exec, name: str, key: str, value: result }),
  EnvironmentPaused: obj({ reason: opt(str) }),
  EnvironmentResumed: obj({}),
  ExecutionProgressed: obj({ ...exec, fraction: opt((v, p) => (typeof v === "number" && v >= 0 && v <= 1 ? undefined : `${p} must be a number from 0 to 1`)), message: opt(str) }),
  MetricRecorded: obj({ ...exec, name: str, value: num }),
  PoolCreated: obj({
    name: str,
    launcher: lit("process"),
    modules: arr(str),
    max: (v, p) => (Number.isSafeInteger(v) && (v as number) >= 1 ? undefined : `${p} must be a whole number >= 1`),
    tags,
  }),
  PoolDeleted: obj({ name: str }),
  ExecutionSuspended: obj({ ...exec, until: opt(nat), waitingFor: opt(arr(str)), callId: opt(str) }),
  ExecutionRecurred: obj(exec),
  InputRequested: obj({ inputId: str, ...exec, callId: str, title: str, schema: value, key: str }),
  InputAnswered: obj({ inputId: str, value }),
};

/** Longest token name recorded in a principal (the API's limit on a token's name). */
export const PRINCIPAL_NAME_MAX = 128;

const matching =
  (re: RegExp, what: string): Check =>
  (v, p) =>
    typeof v === "string" && re.test(v) ? undefined : `${p} must be ${what}`;
const tokenId = matching(TOKEN_ID, "a token id (1-64 lower-case letters and digits)");
const agentId = matching(ID, "an agent id (1-64 letters, digits, '-' and '_')");
const principalName: Check = (v, p) =>
  typeof v === "string" && v.length >= 1 && v.length <= PRINCIPAL_NAME_MAX ? undefined : `${p} must be a string of 1-${PRINCIPAL_NAME_MAX} characters`;

/** An object of exactly these fields: a key not among them is refused, named. */
const exact =
  (fields: Readonly<Record<string, Check>>): Check =>
  (v, p) => {
    const bad = obj(fields)(v, p);
    if (bad) return bad;
    const extra = Object.keys(v as object).find((k) => !Object.hasOwn(fields, k));
    return extra === undefined ? undefined : `${p}.${extra} is not a field of principal kind ${(v as { kind: string }).kind}`;
  };

/** Who caused an event (`Principal`), strictly: the three kinds, their fields and nothing else. */
export const principal: Check = union("kind", {
  admin: exact({ kind: str }),
  token: exact({ kind: str, tokenId, name: opt(principalName) }),
  agent: exact({ kind: str, agentId, tokenId: opt(tokenId) }),
});

/** The envelope check shared by all types and versions. */
export const envelope = obj({ id, type: str, v: int, at: nat, runId: opt(str), by: opt(principal), data: value });

export const isKnownType = (t: unknown): t is EventType =>
  typeof t === "string" && Object.prototype.hasOwnProperty.call(CURRENT_VERSION, t);
