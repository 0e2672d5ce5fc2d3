/**
 * Rejections: a command the orchestrator refuses, as a value. Mapped at the
 * edge to an HTTP status, a CLI exit code of 1, and a message saying what
 * to do.
 */
export type Rejection =
  | { readonly _tag: "InvalidName"; readonly message: string }
  | {
      readonly _tag: "UnknownTarget";
      readonly repository: string;
      readonly target: string;
      readonly known: readonly string[];
      /** A run submitted from outside: it could be accepted to wait (`queue`), and the message says how. */
      readonly queueable?: true;
    }
  | { readonly _tag: "UnknownRun"; readonly runId: string }
  | { readonly _tag: "UnknownStep"; readonly runId: string; readonly stepId: string }
  | { readonly _tag: "UnknownExecution"; readonly executionId: string }
  | { readonly _tag: "UnknownAsset"; readonly assetId: string }
  | { readonly _tag: "EnvironmentArchived"; readonly env: string }
  | { readonly _tag: "EnvironmentExists"; readonly env: string }
  | { readonly _tag: "UnknownEnvironment"; readonly env: string }
  | { readonly _tag: "EnvironmentCycle"; readonly path: readonly string[] }
  | { readonly _tag: "RunFinished"; readonly runId: string; readonly status: string }
  | { readonly _tag: "NotAssigned"; readonly executionId: string; readonly agentId: string }
  | { readonly _tag: "InvalidArgument"; readonly message: string }
  | { readonly _tag: "IdempotencyKeyReused"; readonly key: string; readonly runId: string; readonly target: string }
  | { readonly _tag: "NotAWorkflow"; readonly repository: string; readonly target: string; readonly workflows: readonly string[] }
  | {
      readonly _tag: "WrongArgumentCount";
      readonly target: string;
      readonly given: number;
      readonly min: number;
      /** Absent: no limit (a rest parameter). */
      readonly max?: number;
      readonly parameters: readonly string[];
    }
  | { readonly _tag: "ArchivedBase"; readonly env: string; readonly as: "base" | "parent" }
  | { readonly _tag: "UnknownToken"; readonly tokenId: string }
  | { readonly _tag: "TokenExists"; readonly tokenId: string }
  | { readonly _tag: "UnknownRole"; readonly role: string; readonly roles: readonly string[] }
  | { readonly _tag: "InvalidEnvPattern"; readonly pattern: string; readonly hint: string }
  | { readonly _tag: "ExpiryInPast"; readonly expiresAt: number; readonly now: number }
  | { readonly _tag: "PoolExists"; readonly name: string }
  | { readonly _tag: "UnknownPool"; readonly name: string }
  | { readonly _tag: "UnknownInput"; readonly inputId: string }
  | { readonly _tag: "InputAlreadyAnswered"; readonly inputId: string }
  /** The decision would record an event that would not decode (a value from outside that slipped past the edge). */
  | { readonly _tag: "InvalidEvent"; readonly eventType: string; readonly reason: string }
  /** The decision's commit would be over the log's limit (large values belong in blobs and assets). */
  | { readonly _tag: "CommitTooLarge"; readonly command: string; readonly bytes: number; readonly limit: number };

export const rejectionMessage = (r: Rejection): string => {
  switch (r._tag) {
    case "InvalidName":
    case "InvalidArgument":
      return r.message;
    case "UnknownTarget":
      return (
        `unknown target ${r.repository}:${r.target}: no connected agent has registered it` +
        (r.known.length ? ` (known: ${r.known.join(", ")})` : "; start an agent that hosts it, or check the name") +
        (r.queueable ? `; or submit it with --queue (API: "queue": true) to accept the run now: it waits until an agent hosting ${r.repository} connects` : "")
      );
    case "UnknownRun":
      return `no run ${r.runId} in this environment: list runs with 'tributary runs ls'`;
    case "UnknownStep":
      return `run ${r.runId} has no step ${r.stepId}: see its steps with 'tributary runs show ${r.runId}'`;
    case "UnknownExecution":
      return `no execution ${r.executionId}`;
    case "UnknownAsset":
      return `no asset ${r.assetId} in this environment or the ones it inherits from: list assets with 'tributary assets ls'`;
    case "EnvironmentArchived":
      return `environment ${r.env} is archived and accepts no new runs`;
    case "EnvironmentExists":
      return `environment ${r.env} already exists`;
    case "UnknownEnvironment":
    {
      // Named `project/env` where the project matters: the command takes the project as an option.
      const [project, env] = r.env.includes("/") ? (r.env.split("/", 2) as [string, string]) : [undefined, r.env];
      return `no environment ${r.env}: create it with 'tributary envs create ${env}${project ? ` --project ${project}` : ""}'`;
    }
    case "EnvironmentCycle":
      return `that base would make a cycle: ${r.path.join(" → ")}`;
    case "RunFinished":
      return `run ${r.runId} has already ${FINISHED[r.status] ?? r.status}: see it with 'tributary runs show ${r.runId}'`;
    case "IdempotencyKeyReused":
      return (
        `idempotency key ${JSON.stringify(r.key)} was already used for run ${r.runId} (${r.target}) with other arguments or another target: ` +
        `use a new key, or send the same target and arguments to get run ${r.runId}`
      );
    case "NotAWorkflow":
      return (
        `${r.repository}:${r.target} is a task: only workflows are submitted as runs; call the task from a workflow` +
        (r.workflows.length ? ` (workflows of ${r.repository}: ${r.workflows.join(", ")})` : ` (${r.repository} has no workflow)`)
      );
    case "WrongArgumentCount": {
      const range = r.max === undefined ? `at least ${r.min}` : r.min === r.max ? `${r.min}` : `${r.min} to ${r.max}`;
      const names = r.parameters.length ? ` (${r.parameters.join(", ")})` : "";
      const one = r.min === 1 && (r.max === 1 || r.max === undefined);
      return `${r.target} takes ${range} argument${one ? "" : "s"}${names}, got ${r.given}`;
    }
    case "ArchivedBase":
      return `environment ${r.env} is archived: it cannot be the ${r.as} of another environment; choose one that is not archived`;
    case "UnknownToken":
      return `no token ${r.tokenId}: list tokens with 'tributary tokens ls'`;
    case "TokenExists":
      return `token ${r.tokenId} already exists`;
    case "UnknownRole":
      return `unknown role ${JSON.stringify(r.role)}: use one of ${r.roles.join(", ")}`;
    case "InvalidEnvPattern":
      return `invalid environment pattern ${JSON.stringify(r.pattern)}: ${r.hint}`;
    case "ExpiryInPast":
      return `expiry ${new Date(r.expiresAt).toISOString()} is not in the future (now ${new Date(r.now).toISOString()}): give a later time or a positive duration`;
    case "NotAssigned":
      return `execution ${r.executionId} is not assigned to agent ${r.agentId}`;
    case "PoolExists":
      return `pool ${r.name} already exists with other settings: delete it first ('tributary pools delete ${r.name}'), or choose another name`;
    case "UnknownPool":
      return `no pool ${r.name} in this environment: list pools with 'tributary pools ls'`;
    case "UnknownInput":
      return `no input ${r.inputId} in this environment: list them with 'tributary inputs ls'`;
    case "InputAlreadyAnswered":
      return `input ${r.inputId} has been answered already (with another value): see it with 'tributary inputs show ${r.inputId}'`;
    case "InvalidEvent":
      return `refused: it would record an invalid ${r.eventType} event: ${r.reason}`;
    case "CommitTooLarge":
      return (
        `${r.command} would record ${r.bytes} bytes, over the limit of ${r.limit} bytes for one commit: ` +
        "keep large values (arguments, metadata, keys) small, or persist them as an asset and pass the asset"
      );
  }
};

/** HTTP status of a rejection. */
export const rejectionStatus = (r: Rejection): number => {
  switch (r._tag) {
    case "UnknownRun":
    case "UnknownStep":
    case "UnknownExecution":
    case "UnknownEnvironment":
    case "UnknownAsset":
    case "UnknownToken":
    case "UnknownPool":
    case "UnknownInput":
      return 404;
    case "EnvironmentArchived":
    case "EnvironmentExists":
    case "RunFinished":
    case "NotAssigned":
    case "EnvironmentCycle":
    case "IdempotencyKeyReused":
    case "ArchivedBase":
    case "TokenExists":
    case "PoolExists":
    case "InputAlreadyAnswered":
      return 409;
    case "CommitTooLarge":
      return 413;
    case "UnknownTarget":
    case "InvalidName":
    case "InvalidArgument":
    case "NotAWorkflow":
    case "WrongArgumentCount":
    case "InvalidEvent":
    case "UnknownRole":
    case "InvalidEnvPattern":
    case "ExpiryInPast":
      return 400;
  }
};

/** How a finished run's status reads after "has already". */
const FINISHED: { readonly [status: string]: string } = { succeeded: "succeeded", failed: "failed", cancelled: "been cancelled" };
