/** Option fragments shared by the commands. */
import type { ParseArgsConfig } from "node:util";
import { name, serverUrl } from "./args.js";
import type { Target } from "./client.js";

export const COMMON = {
  server: { type: "string" },
  project: { type: "string" },
  env: { type: "string" },
  json: { type: "boolean", default: false },
} as const satisfies ParseArgsConfig["options"];

/** The server, project and environment a command acts on: options, else the environment, else the defaults; each checked. */
export const targetOf = (v: { server?: string | undefined; project?: string | undefined; env?: string | undefined }): Target => ({
  server: serverUrl(v.server ?? process.env.TRIBUTARY_SERVER ?? "http://127.0.0.1:7777", v.server !== undefined ? "--server" : "TRIBUTARY_SERVER"),
  project: name("project", v.project ?? process.env.TRIBUTARY_PROJECT ?? "default", v.project !== undefined ? "--project" : "TRIBUTARY_PROJECT"),
  env: name("env", v.env ?? process.env.TRIBUTARY_ENV ?? "production", v.env !== undefined ? "--env" : "TRIBUTARY_ENV"),
});
