/** `tributary whoami`: see WHOAMI in ../table.ts. */
import { describePrincipal } from "../../events/index.js";
import type { WhoAmIAnswer } from "../../protocol/api.js";
import { toJson } from "../../protocol/json.js";
import { clientOf } from "../client.js";
import { connectionOf } from "../options.js";
import { WHOAMI } from "../table.js";
import { parse } from "../usage.js";
import { scopeOf } from "./tokens.js";

export const run = async (argv: string[]): Promise<number> => {
  const parsed = parse(WHOAMI, argv);
  const c = connectionOf(parsed);
  const answer = await clientOf({ ...c, project: "default" }).whoami();
  console.log(parsed.values.json ? toJson(answer) : describeWhoAmI(answer, c.server, c.token !== undefined));
  return 0;
};

/** What `whoami` says of an answer. */
export const describeWhoAmI = (a: WhoAmIAnswer, server: string, tokenGiven: boolean): string => {
  if (!a.auth) {
    return `the server at ${server} checks no credentials (it was started without --auth): every request is allowed${tokenGiven ? ", and the token given is not looked at" : ""}`;
  }
  if (a.principal === undefined) return `the server at ${server} checks credentials, and none was given: give a token with --token TOKEN or TRIBUTARY_TOKEN`;
  const who = a.principal.kind === "admin" ? "admin: the server's admin token (every project, every role)" : describePrincipal(a.principal);
  return `the server at ${server} checks credentials; you are ${who}${a.token ? `: ${scopeOf(a.token)}` : ""}`;
};
