/**
 * Studio's calls to the server's HTTP API (same origin, under /api). With
 * `--auth` the server wants `Authorization: Bearer <token>` on every call:
 * the token the user gives is kept in sessionStorage (this tab only, gone
 * when it closes) and sent on each call. A 401 tells the app to ask for a
 * token; every refusal carries the server's own message (`{ "error" }`).
 */

const TOKEN_KEY = "tributary.token";

/** A refusal from the API: its HTTP status and the server's message. */
export class ApiError extends Error {
  override readonly name = "ApiError";
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export const token = (): string | null => sessionStorage.getItem(TOKEN_KEY);
export const setToken = (t: string | null): void => (t ? sessionStorage.setItem(TOKEN_KEY, t) : sessionStorage.removeItem(TOKEN_KEY));

type AuthListener = (e: ApiError) => void;
const authListeners = new Set<AuthListener>();
/** Called on every 401: the server wants a (valid) token. Returns the unsubscription. */
export const onAuthNeeded = (f: AuthListener): (() => void) => {
  authListeners.add(f);
  return () => void authListeners.delete(f);
};

/** The JSON of an answer, with the tags the API puts on values JSON lacks (`$bigint`, `$date`, `$bytes`) decoded. */
export const decodeJson = (text: string): unknown =>
  // Without a tag, no reviver: it costs a call per value (a run of 10,000 steps has millions).
  !text.includes('"$') ? JSON.parse(text) : JSON.parse(text, (_key, v: unknown) => {
    if (typeof v !== "object" || v === null || Array.isArray(v)) return v;
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length !== 1) return v;
    if (typeof o["$bigint"] === "string") return BigInt(o["$bigint"]);
    if (typeof o["$date"] === "string") return new Date(o["$date"]);
    if (typeof o["$bytes"] === "string") return Uint8Array.from(atob(o["$bytes"]), (c) => c.charCodeAt(0));
    return v;
  });

/** GET (or POST) `path` of the API; throws {@link ApiError} on anything but 2xx. */
export const api = async <T>(path: string, init: { method?: "GET" | "POST"; body?: unknown; signal?: AbortSignal } = {}): Promise<T> => {
  const headers: Record<string, string> = { accept: "application/json" };
  const t = token();
  if (t) headers["authorization"] = `Bearer ${t}`;
  if (init.body !== undefined) headers["content-type"] = "application/json";
  let res: Response;
  try {
    res = await fetch(path, {
      method: init.method ?? "GET",
      headers,
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
      ...(init.signal ? { signal: init.signal } : {}),
    });
  } catch (e) {
    if ((e as Error).name === "AbortError") throw e;
    throw new ApiError(0, `the server does not answer (${(e as Error).message}): is it running?`);
  }
  const text = await res.text();
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`;
    try {
      const body = JSON.parse(text) as { error?: unknown };
      if (typeof body.error === "string") message = body.error;
    } catch {
      // not JSON: keep the status line
    }
    const e = new ApiError(res.status, message);
    if (res.status === 401) for (const f of authListeners) f(e);
    throw e;
  }
  return decodeJson(text) as T;
};

/**
 * Follows an NDJSON stream of the API (`…/logs?follow=true`), with the
 * token: calls `onLine` with each decoded line until the stream ends (it
 * resolves) or `signal` aborts. A refusal throws {@link ApiError}.
 */
export const streamLines = async (path: string, onLine: (v: unknown) => void, signal: AbortSignal): Promise<void> => {
  const headers: Record<string, string> = { accept: "application/x-ndjson" };
  const t = token();
  if (t) headers["authorization"] = `Bearer ${t}`;
  let res: Response;
  try {
    res = await fetch(path, { headers, signal });
  } catch (e) {
    if ((e as Error).name === "AbortError") throw e;
    throw new ApiError(0, `the server does not answer (${(e as Error).message}): is it running?`);
  }
  if (!res.ok || !res.body) {
    const text = await res.text();
    let message = `${res.status} ${res.statusText}`;
    try {
      const body = JSON.parse(text) as { error?: unknown };
      if (typeof body.error === "string") message = body.error;
    } catch {
      // not JSON: keep the status line
    }
    throw new ApiError(res.status, message);
  }
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let rest = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    rest += value;
    let nl: number;
    while ((nl = rest.indexOf("\n")) >= 0) {
      const line = rest.slice(0, nl).trim();
      rest = rest.slice(nl + 1);
      if (line) onLine(decodeJson(line));
    }
  }
  if (rest.trim()) onLine(decodeJson(rest.trim()));
};
