/**
 * The CLI's HTTP client of the server API, and its failure modes mapped to
 * exit codes: a refusal (4xx) is exit 1, a fault (5xx, no server) exit 2.
 */
import { fromJson, toJson } from "../orchestrator/json.js";

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
}

export const envPath = (t: Target, rest: string): string =>
  `/api/projects/${encodeURIComponent(t.project)}/envs/${encodeURIComponent(t.env)}${rest}`;

export const api = async <T>(server: string, method: "GET" | "POST", path: string, body?: unknown): Promise<T> => {
  const res = await request(server, method, path, body);
  let text: string;
  try {
    text = await res.text();
  } catch (e) {
    throw new CliError(`the connection to the Tributary server at ${server} was cut (${(e as Error).message})`, 2);
  }
  let value: unknown;
  try {
    value = text ? fromJson(text) : undefined;
  } catch {
    throw new CliError(`the server answered ${res.status} with something that is not JSON`, 2);
  }
  if (!res.ok) {
    const message = (value as { error?: string } | undefined)?.error ?? `HTTP ${res.status}`;
    throw new CliError(message, res.status >= 500 ? 2 : 1);
  }
  return value as T;
};

export const request = async (server: string, method: string, path: string, body?: unknown): Promise<Response> => {
  try {
    return await fetch(new URL(path, server), {
      method,
      ...(body === undefined ? {} : { body: toJson(body), headers: { "content-type": "application/json" } }),
    });
  } catch (e) {
    throw new CliError(
      `cannot reach the Tributary server at ${server} (${(e as Error).cause instanceof Error ? ((e as Error).cause as Error).message : (e as Error).message}): start it with 'tributary server', or set --server / TRIBUTARY_SERVER`,
      2,
    );
  }
};
