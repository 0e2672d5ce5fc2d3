/**
 * The read model the decider and the scheduler see: typed, read-only
 * look-ups over projection documents. Built over any `DocSource` (the live
 * store with its in-memory overlay, or an in-memory store in tests).
 */
import type { ExecutionId, RunId } from "../events/index.js";
import {
  getEnvironment,
  getExecution,
  getRun,
  listManifests,
  runForIdempotencyKey,
  stepForCall,
  stepKey,
  stepsOfRun,
  type AgentDoc,
  type CallDoc,
  type DocSource,
  type EnvironmentDoc,
  type ExecutionDoc,
  type ManifestDoc,
  type RunDoc,
  type StepDoc,
} from "../projections/index.js";

export interface Model {
  run(runId: string): RunDoc | undefined;
  step(runId: string, stepId: string): StepDoc | undefined;
  stepsOfRun(runId: string): StepDoc[];
  execution(executionId: string): ExecutionDoc | undefined;
  manifest(repository: string): ManifestDoc | undefined;
  repositories(): string[];
  agent(agentId: string): AgentDoc | undefined;
  environment(): EnvironmentDoc | undefined;
  runForKey(idempotencyKey: string): RunId | undefined;
  call(callId: string): CallDoc | undefined;
}

export const modelOf = (src: DocSource): Model => ({
  run: (runId) => getRun(src, runId as RunId),
  step: (runId, stepId) => src.get<StepDoc>("steps", stepKey(runId, stepId)),
  stepsOfRun: (runId) => stepsOfRun(src, runId as RunId),
  execution: (id) => getExecution(src, id as ExecutionId),
  manifest: (repository) => src.get<ManifestDoc>("manifests", repository),
  repositories: () => listManifests(src).map((x) => x.repository),
  agent: (agentId) => src.get<AgentDoc>("agents", agentId),
  environment: () => getEnvironment(src),
  runForKey: (key) => runForIdempotencyKey(src, key),
  call: (callId) => stepForCall(src, callId),
});
