/**
 * What the caller may do: its `GET /api/whoami` (asked once per token, shared
 * by every button), weighed by `callerRefusal` of src/protocol/permissions.ts
 * (the server's own table of what each route asks, and its environment
 * patterns). Without `--auth` everything may be done. A hint only: the
 * server stays the judge, and its 403 is still shown.
 */
import { useEffect, useState } from "preact/hooks";
import type { WhoAmIAnswer } from "../protocol/api.js";
import type { RouteName } from "../protocol/http.js";
import { callerRefusal } from "../protocol/permissions.js";
import { api, token } from "./api.js";

let asked: { token: string | null; answer: Promise<WhoAmIAnswer | undefined> } | undefined;

/** The caller as the server sees it (undefined: not known, e.g. no token yet). */
const whoAmI = (): Promise<WhoAmIAnswer | undefined> => {
  const t = token();
  if (!asked || asked.token !== t) asked = { token: t, answer: api<WhoAmIAnswer>("/api/whoami").catch(() => undefined) };
  return asked.answer;
};

/** The caller's whoami, once known (refreshed when the token changes). */
export const useWhoAmI = (): WhoAmIAnswer | undefined => {
  const [who, setWho] = useState<WhoAmIAnswer>();
  const t = token();
  useEffect(() => {
    let live = true;
    void whoAmI().then((w) => live && setWho(w));
    return () => void (live = false);
  }, [t]);
  return who;
};

/** Why the caller may not call `route` in `project`/`env` (see callerRefusal), or undefined. */
export const useRefusal = (route: RouteName, project: string, env?: string): string | undefined => callerRefusal(useWhoAmI(), route, project, env);

/** The props of a button the caller may not use: disabled, and a title saying why. */
export const refusedProps = (refusal: string | undefined): { disabled?: true; title?: string; "data-refused"?: string } =>
  refusal ? { disabled: true, title: refusal, "data-refused": refusal } : {};
