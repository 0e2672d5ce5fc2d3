/**
 * The query string of Studio's own address as state (the runs list's
 * filters and page): read by `useQuery`, written by `setQuery` (a new
 * history entry, or the current one replaced), so back and forward, a
 * reload and a shared link all show the same thing.
 */
import { useEffect, useState } from "preact/hooks";

const CHANGED = "tributary:query";

/** The address bar's query, again whenever it changes (back, forward, `setQuery`). */
export const useQuery = (): URLSearchParams => {
  const [search, setSearch] = useState(location.search);
  useEffect(() => {
    const on = () => setSearch(location.search);
    window.addEventListener("popstate", on);
    window.addEventListener(CHANGED, on);
    return () => {
      window.removeEventListener("popstate", on);
      window.removeEventListener(CHANGED, on);
    };
  }, []);
  return new URLSearchParams(search);
};

/** Sets the query to `values` (empty and absent ones left out), as a new history entry or (`replace`) in place of this one. */
export const setQuery = (values: Readonly<Record<string, string | undefined>>, replace = false): void => {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(values)) if (v) q.set(k, v);
  const text = q.toString();
  const url = `${location.pathname}${text ? `?${text}` : ""}`;
  if (url === `${location.pathname}${location.search}`) return;
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  window.dispatchEvent(new Event(CHANGED));
};
