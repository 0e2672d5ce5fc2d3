/**
 * The CLI's link to the server: a `tributary/client` of the target the
 * options name, and its errors mapped to exit codes: a refusal (4xx, or a
 * request the client refuses to send) is exit 1, a fault (5xx, no server,
 * a cut connection) exit 2.
 */
import { Client } from "../client/client.js";
import { ConnectionError, TributaryClientError, isTransient } from "../client/errors.js";

export class CliError extends Error {
  constructor(
    message: string,
    /** 1: refused or bad usage; 2: fault; 3: the run failed. */
    readonly exitCode: 1 | 2 | 3,
  ) {
    super(message);
  }
}

export interface Target {
  readonly server: string;
  readonly project: string;
  readonly env: string;
  /** The PEM text of the CA to trust for an https:// server (--ca / TRIBUTARY_CA). */
  readonly ca?: string;
}

/** The client of the target's environment. */
export const clientOf = (t: Target): Client => new Client({ url: t.server, project: t.project, env: t.env, ...(t.ca === undefined ? {} : { ca: t.ca }) });

/** A client's error as the CLI reports it (`undefined` for any other error). */
export const cliErrorOf = (e: unknown): CliError | undefined => {
  if (e instanceof CliError) return e;
  if (!(e instanceof TributaryClientError)) return undefined;
  if (e instanceof ConnectionError && e.reason === "unreachable") {
    return new CliError(`${e.message}: start it with 'tributary server', or set --server / TRIBUTARY_SERVER`, 2);
  }
  if (e instanceof ConnectionError && e.reason === "untrusted") return new CliError(e.message, 1);
  return new CliError(e.message, isTransient(e) ? 2 : 1);
};
