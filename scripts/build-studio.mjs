// Bundles Studio, the browser app of src/studio/, into one directory:
// index.html plus assets/app-<hash>.js and assets/app-<hash>.css (esbuild;
// the hash changes with the content, so the server may let browsers cache
// them for good). Used by scripts/build.mjs (into dist/studio/) and by the
// browser tests (into a temp directory). `node scripts/build-studio.mjs
// --watch` rebuilds dist/studio/ on every change while you work on it.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const SRC = join(root, "src/studio");
export const STUDIO_OUT = join(root, "dist/studio");

const options = (outDir, minify) => ({
  entryPoints: { app: join(SRC, "main.tsx") },
  bundle: true,
  format: "esm",
  platform: "browser",
  target: ["es2022"],
  jsx: "automatic",
  jsxImportSource: "preact",
  minify,
  sourcemap: false,
  legalComments: "none",
  outdir: join(outDir, "assets"),
  entryNames: "[name]-[hash]",
  metafile: true,
  write: true,
  logLevel: "warning",
});

/** Writes index.html naming the bundle's files. */
const writeIndex = (outDir, metafile) => {
  const outputs = Object.keys(metafile.outputs).map((p) => basename(p));
  const js = outputs.find((f) => f.endsWith(".js"));
  const css = outputs.find((f) => f.endsWith(".css"));
  if (!js) throw new Error("build-studio: esbuild wrote no JavaScript");
  const html = readFileSync(join(SRC, "index.html"), "utf8")
    .replace("<!--css-->", css ? `<link rel="stylesheet" href="/assets/${css}">` : "")
    .replace("<!--js-->", `<script type="module" src="/assets/${js}"></script>`);
  writeFileSync(join(outDir, "index.html"), html);
};

/** Builds Studio into `outDir` (emptied first). Returns the files written, relative to it. */
export const buildStudio = async ({ outDir = STUDIO_OUT, minify = true } = {}) => {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const result = await esbuild.build(options(outDir, minify));
  writeIndex(outDir, result.metafile);
  return ["index.html", ...Object.keys(result.metafile.outputs).map((p) => `assets/${basename(p)}`)];
};

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv.includes("--watch")) {
    mkdirSync(STUDIO_OUT, { recursive: true });
    const ctx = await esbuild.context({
      ...options(STUDIO_OUT, false),
      plugins: [{ name: "index", setup: (b) => b.onEnd((r) => r.metafile && (writeIndex(STUDIO_OUT, r.metafile), console.error("studio: rebuilt"))) }],
    });
    await ctx.watch();
    console.error(`studio: watching src/studio/, writing ${STUDIO_OUT}`);
  } else {
    const files = await buildStudio();
    console.error(`studio: built ${files.join(", ")} into dist/studio/`);
  }
}
