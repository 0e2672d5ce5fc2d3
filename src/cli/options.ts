/** Option fragments shared by the commands. */
import type { ParseArgsConfig } from "node:util";
import type { Target } from "./client.js";

export const COMMON = {
  server: { type: "string" },
  project: { type: "string" },
  env: { type: "string" },
  json: { type: "boolean", default: false },
} as const satisfies ParseArgsConfig["options"];

export const targetOf = (v: { server?: string | undefined; project?: string | undefined; env?: string | undefined }): Target => ({
  server: v.server ?? process.env.TRIBUTARY_SERVER ?? "http://127.0.0.1:7777",
  project: v.project ?? process.env.TRIBUTARY_PROJECT ?? "default",
  env: v.env ?? process.env.TRIBUTARY_ENV ?? "production",
});
