#!/usr/bin/env node
// The `tributary` command. Runs the TypeScript sources through tsx, which is
// also what lets agents load TypeScript modules of workflows and tasks.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../src/cli/main.ts");
process.exitCode = await main(process.argv.slice(2));
