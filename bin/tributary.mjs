#!/usr/bin/env node
// The `tributary` command.
// - In a clone (the TypeScript sources are beside it): runs them through tsx,
//   so that `npx tributary`, `npm run demo`, the scripts and the tests run the
//   code as it is, with no build between an edit and a run.
// - Installed from the package (which holds no sources, only the build):
//   runs the build, dist/src/cli/main.js, plain JavaScript with no loader.
//   Agents still load TypeScript modules: their worker threads register tsx
//   (src/agent/worker-boot.mjs).
import { existsSync } from "node:fs";

const sources = new URL("../src/cli/main.ts", import.meta.url);
let main;
if (existsSync(sources)) {
  const { register } = await import("tsx/esm/api");
  register();
  ({ main } = await import(sources.href));
} else {
  ({ main } = await import("../dist/src/cli/main.js"));
}
process.exitCode = await main(process.argv.slice(2));
