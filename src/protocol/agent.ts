/**
 * Schemas of the agent protocol: every WebSocket frame, both ways, one
 * schema per message type. The server checks each agent frame against its
 * schema before it makes a command of it; the agent checks each server
 * frame. The TypeScript types of the messages stay in `src/protocol/messages.ts`.
 *
 * Agent frames are strict (an unknown field is refused: what the server
 * records must be exactly what the protocol says); server frames are open to
 * fields an agent does not know yet.
 */
import { Type, type TObject, type TProperties, type TSchema } from "@sinclair/typebox";
import { ID, ID_HINT, NAME, NAME_HINT } from "../events/ids.js";
import { MAX_PROGRESS_MESSAGE, METRIC_NAME } from "./constants.js";
import { AssetFileSchema, AssetRefSchema, HandleRefSchema, NamedString, ValueSchema, check, type Check } from "./schema.js";

const strict = <T extends TProperties>(props: T, description?: string): TObject<T> =>
  Type.Object(props, { additionalProperties: false, ...(description ? { description } : {}) });
const open = <T extends TProperties>(props: T): TObject<T> => Type.Object(props);

const Str = (max = 256) => Type.String({ minLength: 1, maxLength: max });
const Text = (max: number) => Type.String({ maxLength: max });
const Nat = () => Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
const Lit = <T extends string>(...values: T[]) => Type.Union(values.map((v) => Type.Literal(v)));
const Name = (what: string) => NamedString(NAME, what, NAME_HINT);
const Id = (what: string) => NamedString(ID, what, ID_HINT);
const RequestId = Nat;
const ExecutionId = () => Str();

/** Tags: tag name → accepted values. */
export const TagsSchema = Type.Record(Text(256), Type.Array(Text(256), { maxItems: 256 }), { maxProperties: 256 });

export const RetryPolicySchema = strict({
  limit: Nat(),
  delayMs: Nat(),
  factor: Type.Number(),
  maxDelayMs: Nat(),
  retryOn: Type.Optional(Type.Array(Text(256), { maxItems: 256 })),
});

export const StepOptionsSchema = strict({
  retries: Type.Optional(RetryPolicySchema),
  timeoutMs: Type.Optional(Nat()),
  requires: Type.Optional(TagsSchema),
  delayMs: Type.Optional(Nat()),
  cache: Type.Optional(strict({ maxAgeMs: Type.Optional(Nat()), namespace: Type.Optional(Text(1024)), key: Type.Optional(Text(1024)) })),
  memo: Type.Optional(Type.Boolean()),
  defer: Type.Optional(Type.Boolean()),
  wait: Type.Optional(Type.Boolean()),
  concurrency: Type.Optional(
    Type.Array(strict({ key: Str(1024), limit: Type.Integer({ minimum: 1, maximum: 1_000_000 }) }), { maxItems: 16, description: "concurrency limits: key and limit" }),
  ),
  group: Type.Optional(Str(256)),
  recurrent: Type.Optional(strict({ delayMs: Nat() })),
});

export const TargetRefSchema = strict({ repository: Str(), target: Str() });

export const ErrorInfoSchema = strict({
  type: Text(1024),
  message: Type.String(),
  stack: Type.Optional(Type.String()),
  retryable: Type.Boolean(),
});

export const RepositoryManifestSchema = strict({
  repository: Str(),
  targets: Type.Array(
    strict({
      name: Str(),
      kind: Lit("workflow", "task"),
      parameters: Type.Array(
        strict({ name: Text(256), annotation: Type.Optional(Text(4096)), default: Type.Optional(Text(4096)) }),
        { maxItems: 256 },
      ),
      options: StepOptionsSchema,
      codeHash: Type.Optional(Text(256)),
      arity: Type.Optional(strict({ min: Nat(), max: Type.Optional(Nat()) }, "the counts of arguments the target takes (no max: any number more)")),
    }),
    { maxItems: 10_000 },
  ),
});

const executionIds = () => Type.Array(ExecutionId(), { maxItems: 100_000 });
/** A blob of msgpack bytes on the server: `key` is `sha256:` + `sha256`. */
const BlobRefSchema = () =>
  strict({
    key: Type.String({ pattern: "^sha256:[0-9a-f]{64}$", description: '"sha256:" and 64 lower-case hex digits' }),
    size: Nat(),
    sha256: Type.String({ pattern: "^[0-9a-f]{64}$", description: "64 lower-case hex digits" }),
  });
const Values = () => Type.Array(ValueSchema(), { maxItems: 100_000 });
const Fields = () => Type.Record(Type.String(), ValueSchema());

/** Agent → server, by message type. */
export const AGENT_MESSAGES = {
  hello: strict({
    type: Type.Literal("hello"),
    protocol: Type.Integer(),
    project: Name("project name"),
    env: Name("environment name"),
    agentId: Type.Optional(Id("agent id")),
    tags: TagsSchema,
    concurrency: Type.Integer({ minimum: 1, maximum: 100_000 }),
    manifests: Type.Array(RepositoryManifestSchema, { maxItems: 1000 }),
    running: executionIds(),
  }),
  heartbeat: strict({ type: Type.Literal("heartbeat"), running: executionIds() }),
  manifests: strict({ type: Type.Literal("manifests"), manifests: Type.Array(RepositoryManifestSchema, { maxItems: 1000 }) }),
  started: strict({ type: Type.Literal("started"), executionId: ExecutionId() }),
  succeeded: strict({
    type: Type.Literal("succeeded"),
    executionId: ExecutionId(),
    value: ValueSchema(),
    valueBlob: Type.Optional(BlobRefSchema()),
    requestId: Type.Optional(RequestId()),
  }),
  failed: strict({
    type: Type.Literal("failed"),
    executionId: ExecutionId(),
    error: ErrorInfoSchema,
    requestId: Type.Optional(RequestId()),
  }),
  submit: strict({
    type: Type.Literal("submit"),
    requestId: RequestId(),
    executionId: ExecutionId(),
    call: Type.Optional(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: "the call's position among its execution's calls, from 1" })),
    target: TargetRefSchema,
    arguments: Values(),
    argumentsBlob: Type.Optional(BlobRefSchema()),
    argumentCount: Type.Optional(Nat()),
    options: Type.Optional(StepOptionsSchema),
  }),
  result: strict({
    type: Type.Literal("result"),
    requestId: RequestId(),
    executionId: ExecutionId(),
    handle: HandleRefSchema,
    wait: Type.Boolean(),
  }),
  cancel: strict({ type: Type.Literal("cancel"), requestId: RequestId(), executionId: ExecutionId(), handle: HandleRefSchema }),
  suspend: strict({
    type: Type.Literal("suspend"),
    requestId: RequestId(),
    executionId: ExecutionId(),
    call: Type.Optional(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: "the call's position among its execution's calls, from 1" })),
    until: Type.Optional(Type.Integer({ minimum: 0, maximum: 8.64e15, description: "a time in ms since 1970 (a valid date)" })),
    delayMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 1e13, description: "ms from now" })),
    waitingFor: Type.Optional(Type.Array(HandleRefSchema, { maxItems: 10_000 })),
  }),
  prompt: strict({
    type: Type.Literal("prompt"),
    requestId: RequestId(),
    executionId: ExecutionId(),
    call: Type.Optional(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: "the call's position among its execution's calls, from 1" })),
    title: Type.String({ minLength: 1, maxLength: 1024 }),
    schema: ValueSchema(),
  }),
  persist: strict({
    type: Type.Literal("persist"),
    requestId: RequestId(),
    executionId: ExecutionId(),
    entries: Type.Array(AssetFileSchema, { maxItems: 1_000_000 }),
    name: Type.Optional(Text(1024)),
    metadata: Type.Optional(Fields()),
  }),
  restore: strict({
    type: Type.Literal("restore"),
    requestId: RequestId(),
    executionId: ExecutionId(),
    assetId: Str(),
    to: Type.Optional(Text(4096)),
  }),
  "save-checkpoint": strict({
    type: Type.Literal("save-checkpoint"),
    requestId: RequestId(),
    executionId: ExecutionId(),
    name: Str(128),
    value: ValueSchema(),
    valueBlob: Type.Optional(BlobRefSchema()),
  }),
  "load-checkpoint": strict({ type: Type.Literal("load-checkpoint"), requestId: RequestId(), executionId: ExecutionId(), name: Str(128) }),
  log: strict({
    type: Type.Literal("log"),
    executionId: ExecutionId(),
    level: Lit("debug", "info", "warn", "error"),
    message: Type.String(),
    fields: Type.Optional(Fields()),
    at: Type.Number({ minimum: -8.64e15, maximum: 8.64e15, description: "a time in ms since 1970 (a valid date)" }),
  }),
  progress: strict({
    type: Type.Literal("progress"),
    executionId: ExecutionId(),
    fraction: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: "a fraction from 0 to 1" })),
    message: Type.Optional(Text(MAX_PROGRESS_MESSAGE)),
  }),
  metric: strict({
    type: Type.Literal("metric"),
    executionId: ExecutionId(),
    name: NamedString(METRIC_NAME, "a metric name", "1-128 letters, digits, '_', '.', '-' and '/'"),
    value: Type.Number({ minimum: -Number.MAX_VALUE, maximum: Number.MAX_VALUE, description: "a finite number" }),
  }),
} satisfies Record<string, TSchema>;

const OutcomeSchema = Type.Union([
  open({ status: Type.Literal("succeeded"), value: ValueSchema() }),
  open({ status: Lit("failed", "cancelled", "timed_out", "abandoned"), error: open({ type: Type.String(), message: Type.String() }) }),
]);
const openHandle = open({ runId: Type.String(), stepId: Type.String(), executionId: Type.String() });

/** Server → agent, by message type. */
export const SERVER_MESSAGES = {
  welcome: open({ type: Type.Literal("welcome"), agentId: Type.String(), heartbeatMs: Type.Integer({ minimum: 1 }) }),
  refused: open({
    type: Type.Literal("refused"),
    reason: Type.String(),
    status: Type.Optional(Type.Union([Type.Literal(401), Type.Literal(403)], { description: "a refusal of the agent's credential: 401 not valid (any more), 403 not for this environment or role" })),
  }),
  execute: open({
    type: Type.Literal("execute"),
    executionId: Type.String(),
    runId: Type.String(),
    stepId: Type.String(),
    attempt: Type.Integer(),
    target: open({ repository: Type.String(), target: Type.String() }),
    arguments: Type.Array(ValueSchema()),
    argumentsBlob: Type.Optional(open({ key: Type.String(), size: Type.Integer({ minimum: 0 }), sha256: Type.String({ pattern: "^[0-9a-f]{64}$" }) })),
    timeoutMs: Type.Optional(Type.Number()),
  }),
  abort: open({ type: Type.Literal("abort"), executionId: Type.String(), reason: Lit("cancelled", "timed_out", "abandoned") }),
  submitted: open({ type: Type.Literal("submitted"), requestId: Type.Number(), handle: openHandle }),
  resolved: open({
    type: Type.Literal("resolved"),
    requestId: Type.Number(),
    outcome: Type.Optional(OutcomeSchema),
    resultBlob: Type.Optional(open({ key: Type.String(), size: Type.Integer({ minimum: 0 }), sha256: Type.String({ pattern: "^[0-9a-f]{64}$" }) })),
  }),
  ack: open({ type: Type.Literal("ack"), requestId: Type.Number() }),
  suspended: open({ type: Type.Literal("suspended"), requestId: Type.Number() }),
  answered: open({ type: Type.Literal("answered"), requestId: Type.Number(), value: ValueSchema() }),
  persisted: open({ type: Type.Literal("persisted"), requestId: Type.Number(), asset: AssetRefSchema() }),
  restored: open({ type: Type.Literal("restored"), requestId: Type.Number(), asset: AssetRefSchema() }),
  checkpoint: open({
    type: Type.Literal("checkpoint"),
    requestId: Type.Number(),
    found: Type.Boolean(),
    value: ValueSchema(),
    valueBlob: Type.Optional(open({ key: Type.String(), size: Type.Integer({ minimum: 0 }), sha256: Type.String({ pattern: "^[0-9a-f]{64}$" }) })),
  }),
  error: open({ type: Type.Literal("error"), requestId: Type.Optional(Type.Number()), message: Type.String(), retry: Type.Optional(Type.Boolean()) }),
} satisfies Record<string, TSchema>;

/** A decoded frame: an object with a string `type`. */
export type Frame = { readonly type: string; readonly [key: string]: unknown };

const checks = <K extends string>(schemas: Record<K, TSchema>): ((m: Frame) => string | undefined) => {
  const compiled = new Map<string, Check>();
  return (m) => {
    if (!Object.hasOwn(schemas, m.type)) {
      return `unknown message type ${JSON.stringify(m.type.slice(0, 64))}: expected one of ${Object.keys(schemas).join(", ")}`;
    }
    let c = compiled.get(m.type);
    if (!c) compiled.set(m.type, (c = check(schemas[m.type as K])));
    const problem = c(m);
    return problem === undefined ? undefined : `invalid ${m.type} message: ${problem}`;
  };
};

/**
 * Checks a decoded agent frame against the schema of its type: `undefined`
 * when it fits, else a message naming the field and what it must be. Each
 * type's schema is compiled when its first frame arrives.
 */
export const checkAgentMessage: (m: Frame) => string | undefined = checks(AGENT_MESSAGES);

/** Checks a decoded server frame (on the agent), like {@link checkAgentMessage}. */
export const checkServerMessage: (m: Frame) => string | undefined = checks(SERVER_MESSAGES);
