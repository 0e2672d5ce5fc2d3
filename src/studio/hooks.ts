/**
 * The app's small plumbing: the current place from the address bar
 * (`usePlace`, `navigate`), and data from the API that refreshes itself
 * (`useApi`: refetched on the server's pushed changes, changes.ts).
 */
import { useEffect, useRef, useState } from "preact/hooks";
import { api, ApiError } from "./api.js";
import type { ChangesMessage } from "../protocol/api.js";
import { subscribeChanges, subscribeProject, type Change } from "./changes.js";
import { placeOf, type Place } from "./routes.js";

const NAVIGATED = "tributary:navigated";

/** Goes to `path` without reloading (the back button comes back). */
export const navigate = (path: string, replace = false): void => {
  if (path === location.pathname) return;
  if (replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  window.dispatchEvent(new Event(NAVIGATED));
};

/** The place the address bar shows, following links and the back button. */
export const usePlace = (): Place => {
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    const on = () => setPath(location.pathname);
    window.addEventListener("popstate", on);
    window.addEventListener(NAVIGATED, on);
    return () => {
      window.removeEventListener("popstate", on);
      window.removeEventListener(NAVIGATED, on);
    };
  }, []);
  return placeOf(path);
};

/** The time, again every `ms` while `ms` is given (durations of what still runs tick without asking the API anything). */
export const useNow = (ms: number | undefined): number => {
  const [, setTick] = useState(0);
  useEffect(() => {
    if (ms === undefined) return;
    const t = setInterval(() => !document.hidden && setTick((n) => n + 1), ms);
    return () => clearInterval(t);
  }, [ms]);
  return Date.now();
};

export interface Loaded<T> {
  readonly data?: T;
  readonly error?: ApiError;
  /** No answer yet (the first one). */
  readonly loading: boolean;
}

/** Refetch on the environment's pushed changes (changes.ts) that `touches` says concern this data. */
export interface LiveOptions {
  readonly project: string;
  readonly env: string;
  readonly touches: (m: ChangesMessage) => boolean;
  /** At least this long between two fetches (default 250 ms; more for an answer slow to fetch). */
  readonly minGapMs?: number;
}

/** Polled only while the push stream is down. */
const FALLBACK_POLL_MS = 10_000;

/**
 * GETs `path` of the API (nothing while it is `null`). With `live`, again
 * whenever the environment's push stream says something it `touches`
 * changed (throttled: one fetch at a time, spaced by twice the last one's
 * cost), every 10 s while the stream is down, and not while the tab is
 * hidden (once when it is shown, if something changed). With `pollMs`,
 * again every `pollMs(data)` ms (none: `undefined`) while the tab is
 * visible. A new `path` or `generation` (a new token) starts over.
 */
export const useApi = <T>(
  path: string | null,
  options: {
    pollMs?: (data: T | undefined) => number | undefined;
    generation?: number;
    live?: LiveOptions;
    /** Refetch on every change of this project's environments (its push stream, changes.ts `subscribeProject`). */
    liveProject?: string;
  } = {},
): Loaded<T> => {
  const [state, setState] = useState<Loaded<T>>({ loading: path !== null });
  const pollMs = useRef(options.pollMs);
  pollMs.current = options.pollMs;
  const live = useRef(options.live);
  live.current = options.live;
  useEffect(() => {
    if (path === null) return setState({ loading: false });
    setState({ loading: true });
    const abort = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    let liveTimer: ReturnType<typeof setTimeout> | undefined;
    let fallback: ReturnType<typeof setInterval> | undefined;
    let last: T | undefined;
    let first = true;
    let fetching = false;
    let again = false;
    let missed = false;
    let startedAt = 0;
    let cost = 0;
    let refused = false;
    const load = async () => {
      // A hidden tab asks nothing again until it is shown (the first answer it always gets).
      if (document.hidden && !first) return schedule();
      first = false;
      fetching = true;
      startedAt = performance.now();
      try {
        last = await api<T>(path, { signal: abort.signal });
        cost = performance.now() - startedAt;
        setState({ data: last, loading: false });
      } catch (e) {
        if (abort.signal.aborted) return;
        const error = e instanceof ApiError ? e : new ApiError(0, (e as Error).message);
        setState((s) => ({ ...s, error, loading: false }));
        if (error.status === 401 || error.status === 403 || error.status === 404) refused = true; // no point asking again
      } finally {
        fetching = false;
      }
      if (refused) return;
      if (again) {
        again = false;
        refetch();
      }
      schedule();
    };
    const schedule = () => {
      const ms = pollMs.current?.(last);
      if (ms !== undefined && !abort.signal.aborted) timer = setTimeout(() => void load(), ms);
    };
    /** A change touched this data: fetch it again, throttled. */
    const refetch = () => {
      if (abort.signal.aborted || refused) return;
      if (document.hidden) return void (missed = true);
      if (fetching) return void (again = true);
      if (liveTimer) return;
      const wait = startedAt + Math.max(live.current?.minGapMs ?? 250, 2 * cost) - performance.now();
      if (wait > 0) liveTimer = setTimeout(() => ((liveTimer = undefined), refetch()), wait);
      else void load();
    };
    const onVisible = () => {
      if (!document.hidden && missed) {
        missed = false;
        refetch();
      }
    };
    const l = live.current;
    const onChange = (c: Change) => {
      if (c.kind === "changes") {
        if (live.current?.touches(c.message)) refetch();
      } else if (c.kind === "project" || c.kind === "reset") refetch();
      else if (c.kind === "down") fallback ??= setInterval(refetch, FALLBACK_POLL_MS);
      else if (c.kind === "up") {
        clearInterval(fallback);
        fallback = undefined;
      }
    };
    const unsubscribe = l
      ? subscribeChanges(l.project, l.env, onChange)
      : options.liveProject !== undefined
        ? subscribeProject(options.liveProject, onChange)
        : undefined;
    document.addEventListener("visibilitychange", onVisible);
    void load();
    return () => {
      abort.abort();
      clearTimeout(timer);
      clearTimeout(liveTimer);
      clearInterval(fallback);
      unsubscribe?.();
      document.removeEventListener("visibilitychange", onVisible);
    };
  }, [path, options.generation, options.live?.project, options.live?.env, options.liveProject]);
  return state;
};
