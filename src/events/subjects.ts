/**
 * Where an environment's log lives: its stream name and subjects.
 *
 * One stream per (project, environment). Run events travel on
 * `trib.<project>.<env>.run.<runId>`, environment events on
 * `trib.<project>.<env>.env`, so one run's history is a subject-filtered
 * read. Every part is validated by the parsers in `ids.ts` first.
 */
import { InvalidNameError } from "./errors.js";
import { parseEnvName, parseProjectName, parseRunId, type EnvName, type ProjectName, type RunId } from "./ids.js";

/** Names one environment's log. */
export interface LogRef {
  readonly project: ProjectName;
  readonly env: EnvName;
}

/**
 * Validates a project and environment name into a {@link LogRef}.
 * @throws InvalidNameError with what would be accepted.
 */
export const logRef = (project: string, env: string): LogRef => {
  const p = parseProjectName(project);
  if (p._tag === "Left") throw new InvalidNameError(p.left);
  const e = parseEnvName(env);
  if (e._tag === "Left") throw new InvalidNameError(e.left);
  return { project: p.right, env: e.right };
};

/** Human-readable name of the log, for messages. */
export const describeLog = (ref: LogRef): string => `${ref.project}/${ref.env}`;

/** The JetStream stream of the environment. `_` cannot occur in names. */
export const streamName = (ref: LogRef): string => `TRIB_${ref.project}_${ref.env}`;

/** The subjects the stream captures. */
export const streamSubjects = (ref: LogRef): string => `trib.${ref.project}.${ref.env}.>`;

export const envSubject = (ref: LogRef): string => `trib.${ref.project}.${ref.env}.env`;

export const runSubject = (ref: LogRef, runId: RunId): string => {
  const r = parseRunId(runId);
  if (r._tag === "Left") throw new InvalidNameError(r.left);
  return `trib.${ref.project}.${ref.env}.run.${runId}`;
};

