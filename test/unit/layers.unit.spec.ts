/**
 * The layers of docs/architecture.md, held as code: every import in `src/`
 * goes the way the layer table allows, and the pure core reaches no I/O.
 *
 * Imports are read with the TypeScript parser. `import type` and `export
 * type` are erased and do not count; everything else loads its module at
 * run time (with `verbatimModuleSyntax`, `import { type X }` still does), and
 * so does a dynamic `import("…")`.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");
const SRC = join(ROOT, "src");

/** Each source file's layer, by the first prefix that matches (most specific first). */
const LAYERS: readonly (readonly [prefix: string, layer: string])[] = [
  ["src/events/storage/", "events/storage"],
  ["src/events/", "events"],
  ["src/projections/store/", "projections/store"],
  ["src/projections/", "projections"],
  ["src/protocol/", "protocol"],
  ["src/orchestrator/core/", "orchestrator/core"],
  ["src/orchestrator/", "orchestrator"],
  ["src/agent/", "agent"],
  ["src/client/", "client"],
  ["src/cli/", "cli"],
  ["src/studio/", "studio"],
  ["src/index.ts", "package"],
  ["src/client.ts", "package"],
  ["src/server.ts", "package"],
];

/** What each layer may import besides itself: only downwards. */
const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  events: [],
  "events/storage": ["events"],
  projections: ["events"],
  "projections/store": ["projections", "events", "events/storage"],
  protocol: ["events"],
  "orchestrator/core": ["events", "projections", "protocol"],
  orchestrator: ["orchestrator/core", "events", "events/storage", "projections", "projections/store", "protocol"],
  agent: ["events", "protocol"],
  client: ["events", "protocol"],
  cli: ["client", "agent", "orchestrator", "orchestrator/core", "protocol", "events", "events/storage", "projections", "projections/store", "package"],
  studio: ["protocol", "events"],
  package: ["agent", "client", "orchestrator", "orchestrator/core", "protocol", "events", "events/storage", "projections", "projections/store"],
};

/** What a pure module and everything it imports never load. */
const IO = (spec: string): boolean =>
  spec.startsWith("node:") ||
  builtinModules.includes(spec) ||
  spec === "lmdb" ||
  spec === "msgpackr" ||
  spec.startsWith("@nats-io/") ||
  spec === "ws";

/** A module that defines a decider, a projection's fold or `nextActions` is pure. */
const PURE_NAME = /^(decide|evolve)([A-Z_0-9]|$)|^nextActions$/;

const sourceFiles = (dir: string): string[] =>
  readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return sourceFiles(p);
    return /\.(ts|tsx|mts|mjs)$/.test(name) && !name.endsWith(".d.ts") ? [p] : [];
  });

interface Parsed {
  /** Runtime imports: resolved source files (repo-relative) and bare specifiers. */
  readonly files: string[];
  readonly packages: string[];
  readonly definesPure: string[];
}

const resolveRelative = (from: string, spec: string): string => {
  const base = resolve(dirname(from), spec);
  const candidates = [base.replace(/\.js$/, ".ts"), base.replace(/\.js$/, ".tsx"), base.replace(/\.mjs$/, ".mts"), base, `${base}.ts`, join(base, "index.ts")];
  const found = candidates.find((c) => {
    try {
      return statSync(c).isFile();
    } catch {
      return false;
    }
  });
  if (!found) throw new Error(`${relative(ROOT, from)}: cannot resolve ${spec}`);
  return relative(ROOT, found);
};

const parse = (file: string): Parsed => {
  const text = readFileSync(file, "utf8");
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
  const specs: string[] = [];
  const definesPure: string[] = [];
  const visit = (n: ts.Node): void => {
    if (ts.isImportDeclaration(n) && !n.importClause?.isTypeOnly && ts.isStringLiteral(n.moduleSpecifier)) specs.push(n.moduleSpecifier.text);
    if (ts.isExportDeclaration(n) && !n.isTypeOnly && n.moduleSpecifier && ts.isStringLiteral(n.moduleSpecifier)) specs.push(n.moduleSpecifier.text);
    if (ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [arg] = n.arguments;
      if (arg && ts.isStringLiteralLike(arg)) specs.push(arg.text);
    }
    const named =
      ts.isFunctionDeclaration(n) || ts.isVariableDeclaration(n) || ts.isPropertyAssignment(n) || ts.isMethodDeclaration(n) || ts.isShorthandPropertyAssignment(n)
        ? n.name
        : undefined;
    if (named && ts.isIdentifier(named) && PURE_NAME.test(named.text)) definesPure.push(named.text);
    ts.forEachChild(n, visit);
  };
  visit(sf);
  const files: string[] = [];
  const packages: string[] = [];
  // A stylesheet (Studio's, bundled by esbuild) is no module.
  for (const s of specs.filter((x) => !x.endsWith(".css"))) (s.startsWith(".") ? files.push(resolveRelative(file, s)) : packages.push(s));
  return { files, packages, definesPure };
};

const graph = new Map(sourceFiles(SRC).map((f) => [relative(ROOT, f), parse(f)] as const));

/** Identifiers of Node's globals used as values (not as property names) in a file. */
const nodeGlobalsIn = (file: string): string[] => {
  const sf = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.ES2022, true, file.endsWith(".tsx") ? ts.ScriptKind.TSX : ts.ScriptKind.TS);
  const found: string[] = [];
  const visit = (n: ts.Node): void => {
    if (ts.isIdentifier(n) && /^(Buffer|process|require|__dirname|__filename|global|setImmediate)$/.test(n.text)) {
      const p = n.parent;
      const isName = (ts.isPropertyAccessExpression(p) && p.name === n) || (ts.isPropertyAssignment(p) && p.name === n) || ts.isPropertySignature(p);
      if (!isName) found.push(n.text);
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return found;
};

const layerOf = (file: string): string | undefined => LAYERS.find(([prefix]) => file === prefix || file.startsWith(prefix))?.[1];

/** The chain of runtime imports from `start` to a module importing an I/O package, if any. */
const ioPath = (start: string): string[] | undefined => {
  const seen = new Set<string>([start]);
  const queue: string[][] = [[start]];
  while (queue.length) {
    const path = queue.shift()!;
    const here = graph.get(path[path.length - 1]!)!;
    const io = here.packages.find(IO);
    if (io) return [...path, io];
    for (const next of here.files) {
      if (seen.has(next)) continue;
      seen.add(next);
      queue.push([...path, next]);
    }
  }
  return undefined;
};

describe("layers (docs/architecture.md)", () => {
  it("every source file belongs to a layer", () => {
    const stray = [...graph.keys()].filter((f) => layerOf(f) === undefined);
    expect(stray, "add the file's folder to LAYERS here and to docs/architecture.md").toEqual([]);
  });

  it("imports go only the way the layer table allows", () => {
    const wrong: string[] = [];
    for (const [file, parsed] of graph) {
      const from = layerOf(file)!;
      for (const dep of parsed.files) {
        const to = layerOf(dep);
        if (to === undefined || to === from) continue;
        if (!(ALLOWED[from] ?? []).includes(to)) wrong.push(`${file} (${from}) imports ${dep} (${to})`);
      }
    }
    expect(wrong).toEqual([]);
  });

  const pure = [...graph].filter(([, p]) => p.definesPure.length > 0).map(([f]) => f);

  it("finds the pure modules: the deciders, the projections' folds and nextActions", () => {
    // The rule below means something only if it holds over these.
    expect(pure.some((f) => f.startsWith("src/orchestrator/core/") && graph.get(f)!.definesPure.includes("decide"))).toBe(true);
    expect(pure.some((f) => graph.get(f)!.definesPure.includes("nextActions"))).toBe(true);
    expect(pure.filter((f) => f.startsWith("src/projections/")).length).toBeGreaterThanOrEqual(4);
  });

  it("no pure module reaches node:*, lmdb, msgpackr, @nats-io/* or ws, however indirectly", () => {
    const reached = pure.flatMap((f) => {
      const path = ioPath(f);
      return path ? [`${graph.get(f)!.definesPure[0]} in ${path.join(" → ")}`] : [];
    });
    expect(reached).toEqual([]);
  });

  it("the check itself sees an I/O import through a barrel", () => {
    // The storage barrel re-exports the LMDB adapter: a module importing it reaches lmdb.
    expect(ioPath("src/events/storage/index.ts")?.at(-1)).toMatch(/^(lmdb|node:|@nats-io\/)/);
  });

  const studio = [...graph.keys()].filter((f) => layerOf(f) === "studio");
  /** What Studio's browser code may load besides its own modules and pure ones of protocol and events. */
  const BROWSER_PACKAGES = /^(preact(\/hooks|\/jsx-runtime)?|@dagrejs\/dagre)$/;

  it("Studio (browser code) reaches no Node module, however indirectly, and loads only its UI and layout libraries", () => {
    expect(studio.length).toBeGreaterThanOrEqual(5);
    const reached = studio.flatMap((f) => {
      const path = ioPath(f);
      return path ? [path.join(" → ")] : [];
    });
    expect(reached).toEqual([]);
    const strange = studio.flatMap((f) => graph.get(f)!.packages.filter((p) => !BROWSER_PACKAGES.test(p)).map((p) => `${f} imports ${p}`));
    expect(strange).toEqual([]);
    // Nor does it, or any module it loads, lean on Node's globals, which no browser has.
    const loaded = new Set(studio);
    for (const f of loaded) for (const next of graph.get(f)!.files) loaded.add(next);
    const globals = [...loaded].flatMap((f) => nodeGlobalsIn(join(ROOT, f)).map((g) => `${f} uses ${g}`));
    expect(globals).toEqual([]);
  });

  it("no source file is over 400 lines", () => {
    const long = [...graph.keys()]
      .map((f) => [f, readFileSync(join(ROOT, f), "utf8").split("\n").length] as const)
      .filter(([, n]) => n > 400)
      .map(([f, n]) => `${f}: ${n} lines`);
    expect(long).toEqual([]);
  });
});
