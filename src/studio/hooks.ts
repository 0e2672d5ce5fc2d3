/**
 * The app's small plumbing: the current place from the address bar
 * (`usePlace`, `navigate`), and data from the API that refreshes itself
 * (`useApi`: polling for now, docs/studio.md).
 */
import { useEffect, useRef, useState } from "preact/hooks";
import { api, ApiError } from "./api.js";
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

export interface Loaded<T> {
  readonly data?: T;
  readonly error?: ApiError;
  /** No answer yet (the first one). */
  readonly loading: boolean;
}

/**
 * GETs `path` of the API (nothing while it is `null`), again every
 * `pollMs(data)` ms (none: `undefined`) while the tab is visible. A new
 * `path` or `generation` (a new token) starts over.
 */
export const useApi = <T>(path: string | null, options: { pollMs?: (data: T | undefined) => number | undefined; generation?: number } = {}): Loaded<T> => {
  const [state, setState] = useState<Loaded<T>>({ loading: path !== null });
  const pollMs = useRef(options.pollMs);
  pollMs.current = options.pollMs;
  useEffect(() => {
    if (path === null) return setState({ loading: false });
    setState({ loading: true });
    const abort = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    let last: T | undefined;
    let first = true;
    const load = async () => {
      // A hidden tab asks nothing again until it is shown (the first answer it always gets).
      if (document.hidden && !first) return schedule();
      first = false;
      try {
        last = await api<T>(path, { signal: abort.signal });
        setState({ data: last, loading: false });
      } catch (e) {
        if (abort.signal.aborted) return;
        const error = e instanceof ApiError ? e : new ApiError(0, (e as Error).message);
        setState((s) => ({ ...s, error, loading: false }));
        if (error.status === 401 || error.status === 403 || error.status === 404) return; // no point asking again
      }
      schedule();
    };
    const schedule = () => {
      const ms = pollMs.current?.(last);
      if (ms !== undefined && !abort.signal.aborted) timer = setTimeout(() => void load(), ms);
    };
    void load();
    return () => {
      abort.abort();
      clearTimeout(timer);
    };
  }, [path, options.generation]);
  return state;
};
