/**
 * Loading repositories: each module is a repository, its exported targets
 * are the repository's targets, and its manifest is what the agent reports.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { basename, extname, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { Arity, ParameterManifest, TargetManifest } from "../events/index.js";
import type { RepositoryManifest } from "../protocol/messages.js";
import { bindRepository, targetCore, targetLimitKey, type TargetCore } from "./sdk.js";

/** A loaded module: a repository and its targets by name. */
export interface LoadedRepository {
  readonly repository: string;
  /** Absolute path of the module. */
  readonly path: string;
  readonly targets: ReadonlyMap<string, TargetCore>;
}

/** A module could not be loaded, or does not make a valid repository. */
export class ModuleLoadError extends Error {
  override name = "ModuleLoadError";
  constructor(
    message: string,
    readonly path: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

const REPOSITORY = /^[A-Za-z_][\w.-]{0,127}$/;

/**
 * Imports the modules (TypeScript needs a loader such as tsx; JavaScript
 * does not) and makes one repository of each: named after the file without
 * its extension, unless the module exports `const repository = "name"`.
 *
 * @throws {ModuleLoadError} if a module fails to import, exports no target,
 *   has an invalid repository name, exports two different targets of the
 *   same name, or two modules are the same repository.
 */
export const loadRepositories = async (paths: readonly string[], cwd = process.cwd()): Promise<LoadedRepository[]> => {
  const repositories: LoadedRepository[] = [];
  for (const p of paths) {
    const path = resolve(cwd, p);
    let ns: Record<string, unknown>;
    try {
      ns = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      // A .ts file outside an ESM package is compiled as CommonJS, and its imports then fail obscurely.
      const hint = /require\(\) (of )?ES Module|Cannot use import statement outside a module/.test(message)
        ? `; it was loaded as CommonJS: put it in a package whose package.json says "type": "module" (or name it .mts)`
        : "";
      throw new ModuleLoadError(`cannot load module ${path}: ${message}${hint}`, path, { cause: err });
    }
    const repo = fromNamespace(ns, path);
    if (repositories.some((r) => r.repository === repo.repository)) {
      throw new ModuleLoadError(`${path}: repository "${repo.repository}" is already loaded from another module`, path);
    }
    repositories.push(repo);
  }
  for (const repo of repositories) for (const core of repo.targets.values()) bindRepository(core, repo.repository);
  return repositories;
};

const fromNamespace = (ns: Record<string, unknown>, path: string): LoadedRepository => {
  // A CommonJS module puts its exports under `default` too.
  const cjs = typeof ns["default"] === "object" && ns["default"] !== null ? (ns["default"] as Record<string, unknown>) : {};
  const declared = ns["repository"] ?? cjs["repository"];
  if (declared !== undefined && (typeof declared !== "string" || !REPOSITORY.test(declared))) {
    throw new ModuleLoadError(`${path}: the exported repository name must be a string of letters, digits, _ . - , got ${JSON.stringify(declared)}`, path);
  }
  const repository = declared ?? basename(path, extname(path));
  if (!REPOSITORY.test(repository)) {
    throw new ModuleLoadError(`${path}: "${repository}" cannot be a repository name; export const repository = "..." to name it`, path);
  }
  const targets = new Map<string, TargetCore>();
  for (const value of [...Object.values(ns), ...Object.values(cjs)]) {
    const core = targetCore(value);
    if (core === undefined) continue;
    const known = targets.get(core.name);
    if (known !== undefined && known !== core) {
      throw new ModuleLoadError(`${path}: two different targets are named "${core.name}"`, path);
    }
    targets.set(core.name, core);
  }
  if (targets.size === 0) throw new ModuleLoadError(`${path}: the module exports no task or workflow`, path);
  return { repository, path, targets };
};

/** The manifest an agent reports for a repository. */
export const manifestOf = (repo: LoadedRepository): RepositoryManifest => {
  let lists: ParameterLists | undefined;
  const original = () => (lists ??= parameterLists(readSource(repo.path)));
  return {
    repository: repo.repository,
    targets: [...repo.targets.values()].map((core): TargetManifest => {
      const arity = arityOf(Function.prototype.toString.call(core.fn), original);
      return {
        name: core.name,
        kind: core.kind,
        parameters: parseParameters(core.fn),
        options: core.parsed.concurrency
          ? { ...core.parsed.step, concurrency: [{ key: targetLimitKey(repo.repository, core.name), limit: core.parsed.concurrency.limit }] }
          : core.parsed.step,
        codeHash: createHash("sha256").update(Function.prototype.toString.call(core.fn)).digest("hex").slice(0, 16),
        ...(arity ? { arity } : {}),
      };
    }),
  };
};

/** The module's own source text when it is TypeScript (whose `x?: T` the loaded code no longer shows), else "". */
const readSource = (path: string): string => {
  if (!/\.[cm]?tsx?$/.test(path)) return "";
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
};

/**
 * Best-effort parameter names (and default values as source text) from a
 * function's source. Types are usually gone by then (the code was
 * transpiled); a parameter that cannot be read is named by its source text.
 */
export const parseParameters = (fn: (...args: never[]) => unknown): ParameterManifest[] =>
  parseParameterSource(Function.prototype.toString.call(fn));

/** {@link parseParameters} on a function's source text. */
export const parseParameterSource = (src: string): ParameterManifest[] => {
  const list = parameterList(src);
  if (list === undefined) return [];
  return splitTopLevel(list, ",")
    .map((p) => stripComments(p).trim())
    .filter((p) => p !== "")
    .map((p) => {
      const [head = "", ...rest] = splitTopLevel(p, "=");
      const def = rest.join("=").trim();
      const [name = "", ...annotation] = splitTopLevel(head, ":");
      const ann = annotation.join(":").trim();
      const param: ParameterManifest = { name: name.trim().replace(/\?$/, "") };
      return { ...param, ...(ann !== "" ? { annotation: ann } : {}), ...(def !== "" ? { default: def } : {}) };
    });
};

/** One parameter as written: its bare name, and whether a call may leave it out. */
interface ParamShape {
  readonly name: string;
  readonly rest: boolean;
  readonly optional: boolean;
}

const shapesOf = (list: string): ParamShape[] =>
  splitTopLevel(list, ",")
    .map((p) => p.trim())
    .filter((p) => p !== "")
    .map((p) => {
      const [head = "", ...def] = splitTopLevel(p, "=");
      const [name = ""] = splitTopLevel(head, ":");
      const bare = name.trim();
      const rest = bare.startsWith("...");
      return { name: bare.replace(/^\.\.\./, "").replace(/\?$/, "").replace(/\s+/g, ""), rest, optional: rest || def.length > 0 || bare.endsWith("?") };
    });

/**
 * How many arguments a target's function takes, from its source text: at
 * least up to its last parameter with no default (and no `?`), at most all
 * of them (no limit with a rest parameter, or if the code reads
 * `arguments`). TypeScript's `x?: T` is gone from transpiled code, so the
 * parenthesised lists of the module's own source (`original`) are searched
 * for the same parameter names: a parameter marked optional there counts as
 * optional. `undefined` when the parameter list cannot be read.
 */
export const arityOf = (fnSource: string, original: () => ParameterLists = () => new Map()): Arity | undefined => {
  const text = stripComments(fnSource);
  const list = parameterList(text);
  if (list === undefined) return undefined;
  const params = shapesOf(list);
  const rest = params.some((p) => p.rest) || /\barguments\b/.test(text);
  let optional = params.map((p) => p.optional);
  if (optional.some((o) => !o)) {
    for (const shapes of original().get(params.map((p) => p.name).join(",")) ?? []) {
      optional = optional.map((o, i) => o || shapes[i]!.optional);
    }
  }
  const min = optional.lastIndexOf(false) + 1;
  return rest ? { min } : { min, max: params.length };
};

/** Parameter lists of a module's source, by their names joined with `,`. */
export type ParameterLists = ReadonlyMap<string, readonly (readonly ParamShape[])[]>;

/** The lists of `src` that could be parameter lists, by names (see {@link arityOf}). */
export const parameterLists = (src: string): ParameterLists => {
  const out = new Map<string, ParamShape[][]>();
  for (const list of parameterListsIn(stripComments(src))) {
    const shapes = shapesOf(list);
    const key = shapes.map((p) => p.name).join(",");
    out.set(key, [...(out.get(key) ?? []), shapes]);
  }
  return out;
};

/** Longer parenthesised text is not searched for parameter lists (bodies of calls, not parameters). */
const MAX_PARAMETER_LIST = 2000;

/**
 * The text inside every balanced pair of parentheses of `src` (comments
 * already stripped) that could be a parameter list: at most
 * {@link MAX_PARAMETER_LIST} characters, with a `?` or a `=` in it.
 */
function* parameterListsIn(src: string): Generator<string> {
  for (let open = src.indexOf("("); open >= 0; open = src.indexOf("(", open + 1)) {
    let depth = 0;
    const end = Math.min(src.length, open + MAX_PARAMETER_LIST);
    for (let i = open; i < end; i = skip(src, i) + 1) {
      const c = src[i];
      if (c === "(" || c === "[" || c === "{") depth++;
      else if (c === ")" || c === "]" || c === "}") {
        depth--;
        if (depth === 0) {
          const list = src.slice(open + 1, i);
          if (c === ")" && /[?=]/.test(list)) yield list;
          break;
        }
      }
    }
  }
}

/** The text between the parameter list's parentheses (or the single bare arrow parameter). */
const parameterList = (src: string): string | undefined => {
  const s = stripComments(src).trim().replace(/^async\b\s*/, "");
  const bare = /^([A-Za-z_$][\w$]*)\s*=>/.exec(s);
  if (bare) return bare[1];
  const open = s.indexOf("(");
  if (open < 0) return undefined;
  let depth = 0;
  for (let i = open; i < s.length; i = skip(s, i) + 1) {
    const c = s[i];
    if (c === "(" || c === "[" || c === "{") depth++;
    else if (c === ")" || c === "]" || c === "}") {
      depth--;
      if (depth === 0) return s.slice(open + 1, i);
    }
  }
  return undefined;
};

/** Splits on `sep` outside brackets and strings (`=` of `=>`, `==`, `>=`... does not split). */
const splitTopLevel = (s: string, sep: "," | "=" | ":"): string[] => {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i = skip(s, i) + 1) {
    const c = s[i];
    if (c === "(" || c === "[" || c === "{" || c === "<") depth++;
    else if (c === ")" || c === "]" || c === "}" || (c === ">" && s[i - 1] !== "=")) depth = Math.max(0, depth - 1);
    else if (depth === 0 && c === sep) {
      const isOperator = sep === "=" && (s[i + 1] === ">" || s[i + 1] === "=" || "=!<>".includes(s[i - 1] ?? ""));
      if (!isOperator) {
        parts.push(s.slice(start, i));
        start = i + 1;
        if (sep !== ",") break;
      }
    }
  }
  parts.push(s.slice(start));
  return parts;
};

/** The index of the last character of the string literal starting at `i`, or `i`. */
const skip = (s: string, i: number): number => {
  const quote = s[i];
  if (quote !== '"' && quote !== "'" && quote !== "`") return i;
  for (let j = i + 1; j < s.length; j++) {
    if (s[j] === "\\") j++;
    else if (s[j] === quote) return j;
  }
  return s.length;
};

const stripComments = (s: string): string => {
  let out = "";
  for (let i = 0; i < s.length; i++) {
    if (s[i] === "/" && s[i + 1] === "*") {
      const end = s.indexOf("*/", i + 2);
      i = end < 0 ? s.length : end + 1;
      out += " ";
    } else if (s[i] === "/" && s[i + 1] === "/") {
      const end = s.indexOf("\n", i);
      i = end < 0 ? s.length : end - 1;
    } else {
      const j = skip(s, i);
      out += s.slice(i, j + 1);
      i = j;
    }
  }
  return out;
};
