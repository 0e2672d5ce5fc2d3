// Builds the package into dist/: JavaScript and .d.ts of src/ (and of the
// examples the demo runs) by tsc, plus the files the code loads at runtime
// that tsc does not emit, plus Studio (the browser app of src/studio/,
// bundled by esbuild into dist/studio/: scripts/build-studio.mjs). Run by
// `npm run build`, and by `prepare` (after `npm ci` in a clone, and before
// `npm pack`).
import { execFileSync } from "node:child_process";
import { cpSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildStudio } from "./build-studio.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(root, "dist");
/** Loaded at runtime, not compiled: the worker threads' entry, plain JavaScript. */
const ASSETS = ["src/agent/worker-boot.mjs"];

rmSync(dist, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
try {
  execFileSync(process.execPath, [tsc, "-p", join(root, "tsconfig.build.json")], { stdio: "inherit" });
} catch {
  console.error("build: tsc failed (see above)");
  process.exit(1);
}
for (const file of ASSETS) cpSync(join(root, file), join(dist, file));
try {
  await buildStudio();
} catch (e) {
  console.error(`build: Studio (src/studio/) failed: ${e.message}`);
  process.exit(1);
}
