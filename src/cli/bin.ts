#!/usr/bin/env node
/**
 * The `tributary` command of the built package (`dist/src/cli/bin.js`):
 * plain JavaScript, no loader. Agents still load TypeScript modules: their
 * worker threads register tsx (see src/agent/worker-boot.mjs). In a clone,
 * `bin/tributary.mjs` runs the sources instead.
 */
import { main } from "./main.js";

process.exitCode = await main(process.argv.slice(2));
