/** What the commands share after parsing: the environment they act on. */
import { name, serverUrl } from "./args.js";
import type { Target } from "./client.js";

/** The server, project and environment a command acts on (option, else environment variable, else default; see ./table.ts), each checked. */
export const targetOf = (p: {
  readonly values: { readonly server: string; readonly project: string; readonly env: string };
  origin(option: "server" | "project" | "env"): string;
}): Target => ({
  server: serverUrl(p.values.server, p.origin("server")),
  project: name("project", p.values.project, p.origin("project")),
  env: name("env", p.values.env, p.origin("env")),
});
