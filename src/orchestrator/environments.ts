/**
 * The environments of a server: one orchestrator each, started at boot; the
 * hierarchy of bases (live inheritance of caches); and branches, whose
 * inherited view is the parent's log replayed up to the branch point into a
 * frozen projection store of their own.
 */
import { PoolLauncher, type PoolLauncherOptions } from "./pool-launcher.js";
import { join } from "node:path";
import { IdGenerator, isReservedProject, logRef, type EnvName, type EventId, type EventLog, type LogRef, type Principal, type RunId } from "../events/index.js";
import { getEnvironment, getRunView, MemoryStore, PROJECTIONS, type DocSource, type RunView } from "../projections/index.js";
import { LmdbProjectionStore, Projector } from "../projections/store/index.js";
import type { BlobStore } from "../events/storage/blob-store.js";
import type { Command, ProposedBase } from "./core/commands.js";
import { decide } from "./core/decide.js";
import { modelOf, type Inherited } from "./core/model.js";
import { rejectionMessage, rejectionStatus, type Rejection } from "./core/rejections.js";
import { EnvRuntime } from "./runtime.js";
import { EnvScheduler } from "./scheduler/index.js";
import { TaskLogs } from "./task-logs.js";

export interface Env {
  readonly ref: LogRef;
  readonly rt: EnvRuntime;
  readonly scheduler: EnvScheduler;
  readonly logs: TaskLogs;
  /** For a branch: the parent's projections as of the branch point. */
  readonly frozen?: { readonly parent: EnvName; readonly at: number; readonly projector: Projector };
  /** The launcher of its pools (a server that launches pool agents). */
  readonly pools?: PoolLauncher;
}

/** A refusal to report with an HTTP status. */
export class Refused extends Error {
  constructor(readonly rejection: Rejection) {
    super(rejectionMessage(rejection));
  }
  get status(): number {
    return rejectionStatus(this.rejection);
  }
}

export interface EnvironmentsOptions {
  readonly log: EventLog;
  readonly dataDir: string;
  readonly heartbeatMs: number;
  /** How long agents have after a start to connect again (default: their backoff's cap plus two heartbeats). */
  readonly restartGraceMs?: number;
  readonly onNotice: (message: string) => void;
  readonly blobs: BlobStore;
  readonly maxAssetBytes: number;
  /** Pools' agents are started (see `PoolLauncher`) with these; absent: pools are recorded but no agent is started. */
  readonly pools?: Omit<PoolLauncherOptions, "onNotice">;
}

const IMPORT_CHUNK = 200;

/** How a missing environment is made: with a base, or as a branch; `by`: who asks (the `by` of its first event). */
export interface CreateOptions {
  readonly base?: string;
  readonly branch?: { readonly parent: string; readonly at: number };
  readonly by?: Principal | undefined;
}

export class Environments {
  private readonly starting = new Map<string, Promise<Env>>();
  /** Started environments, for synchronous look-ups (inheritance). */
  private readonly started = new Map<string, Env>();
  private readonly onStart = new Set<(e: Env) => void>();

  constructor(private readonly o: EnvironmentsOptions) {}

  private storePath(ref: LogRef): string {
    return join(this.o.dataDir, "projections", ref.project, ref.env);
  }

  /** A branch's frozen view of its parent. (`_` cannot occur in environment names; no `.`: LMDB reads it as a file name.) */
  private frozenPath(ref: LogRef): string {
    return join(this.o.dataDir, "projections", ref.project, "_branch-bases", ref.env);
  }

  /**
   * The environment's orchestrator, started on first use. With `create`, a
   * missing environment is created (with `base`, or as a branch of `branch`).
   */
  async get(project: string, env: string, create?: CreateOptions): Promise<Env> {
    // The server log is `Access`'s alone: no environment is ever started on it (an agent's hello names any project).
    if (isReservedProject(project)) {
      throw new Refused({ _tag: "InvalidName", message: `project name ${JSON.stringify(project)} is reserved for the server's own log: choose another` });
    }
    const ref = logRef(project, env);
    const key = `${ref.project}/${ref.env}`;
    let e = this.starting.get(key);
    if (!e) {
      if (!create && !(await this.o.log.hasEnv(ref))) throw new Refused({ _tag: "UnknownEnvironment", env: key });
      e = this.start(ref, create);
      this.starting.set(key, e);
      e.then(
        (x) => {
          this.started.set(key, x);
          for (const f of [...this.onStart]) f(x);
        },
        () => this.starting.delete(key),
      );
    }
    return e;
  }

  /** Calls `f` with each environment once it is started here (a new one once its first commit is made); returns the unsubscription. */
  onStarted(f: (e: Env) => void): () => void {
    this.onStart.add(f);
    return () => void this.onStart.delete(f);
  }

  private async start(ref: LogRef, create?: CreateOptions): Promise<Env> {
    const first = create && (await this.firstCommand(ref, create));
    // Decided first on the state of a log not yet made (none), so that a refusal leaves no log behind.
    const refusal = first && refusalOf(first);
    if (refusal) throw new Refused(refusal);
    const rt = new EnvRuntime({
      log: this.o.log,
      ref,
      storePath: this.storePath(ref),
      onNotice: this.o.onNotice,
      inherited: this.inheritedFor(ref),
      readBlob: async (key) => {
        const chunks: Buffer[] = [];
        for await (const c of await this.o.blobs.get(key)) chunks.push(c as Buffer);
        return Buffer.concat(chunks);
      },
    });
    await rt.start();
    let doc = getEnvironment(rt.source);
    if (!doc) {
      // Without `create` (a log made but never written to): the server completes it, on nobody's behalf.
      const r = await rt.execute(first ?? { type: "CreateEnvironment", project: ref.project, env: ref.env }, { by: create?.by });
      if (!r.ok && r.rejection._tag !== "EnvironmentExists") throw new Refused(r.rejection);
      doc = getEnvironment(rt.source);
    }
    let frozen: Env["frozen"];
    if (doc?.branchedFrom) {
      const { parent, at } = doc.branchedFrom;
      const store = await LmdbProjectionStore.open(this.frozenPath(ref), PROJECTIONS, this.o.onNotice);
      const projector = new Projector({ log: this.o.log, ref: logRef(ref.project, parent), store, to: at, onNotice: this.o.onNotice });
      await projector.start();
      frozen = { parent, at, projector };
    }
    const logs = new TaskLogs(join(this.o.dataDir, "task-logs", ref.project, `${ref.env}.ndjson`));
    const scheduler = new EnvScheduler(rt, {
      heartbeatMs: this.o.heartbeatMs,
      ...(this.o.restartGraceMs === undefined ? {} : { restartGraceMs: this.o.restartGraceMs }),
      logs,
      onNotice: this.o.onNotice,
      blobs: this.o.blobs,
      maxAssetBytes: this.o.maxAssetBytes,
    });
    scheduler.kick();
    scheduler.resolveAllDeferrals();
    scheduler.sweepEndedRuns();
    const pools = this.o.pools ? new PoolLauncher(ref, rt, scheduler, { ...this.o.pools, onNotice: this.o.onNotice }) : undefined;
    return { ref, rt, scheduler, logs, ...(frozen ? { frozen } : {}), ...(pools ? { pools } : {}) };
  }

  /** The first command of a new environment, with what its decider needs to know of its base or its parent. */
  private async firstCommand(ref: LogRef, create: CreateOptions): Promise<Command> {
    if (create.branch) {
      const { parent, at } = create.branch;
      // Not itself: it does not exist yet (and is starting: looking it up would wait for this).
      const name = logRef(ref.project, parent).env;
      const lastSeq = name === ref.env ? undefined : (await this.find(ref.project, name))?.rt.lastSeq;
      return { type: "BranchEnvironment", project: ref.project, env: ref.env, parent: { env: name, ...(lastSeq === undefined ? {} : { lastSeq }) }, at };
    }
    if (!create.base) return { type: "CreateEnvironment", project: ref.project, env: ref.env };
    const base = logRef(ref.project, create.base).env;
    return { type: "CreateEnvironment", project: ref.project, env: ref.env, base: base === ref.env ? { env: base } : await this.proposedBase(ref.project, base) };
  }

  /** An environment, if there is one of this name (started on first use). */
  private async find(project: string, env: string): Promise<Env | undefined> {
    try {
      return await this.get(project, env);
    } catch (e) {
      if (e instanceof Refused && e.rejection._tag === "UnknownEnvironment") return undefined;
      throw e;
    }
  }

  /** What a decider needs to know of `base` as a base: does it exist, is it archived, what are its own bases. */
  private async proposedBase(project: string, base: EnvName): Promise<ProposedBase> {
    const b = await this.find(project, base);
    return b ? { env: base, found: { archived: getEnvironment(b.rt.source)?.archived === true, bases: this.chain(project, base).slice(1) } } : { env: base };
  }

  /**
   * Cache look-ups beyond the environment itself, nearest first: a branch's
   * frozen view of its parent, then the bases, each as it is now.
   */
  private inheritedFor(ref: LogRef): Inherited {
    const self = this;
    return function* () {
      const seen = new Set<EnvName>([ref.env]);
      let current = self.started.get(`${ref.project}/${ref.env}`);
      while (current) {
        const doc = getEnvironment(current.rt.source);
        if (current.frozen) yield { env: current.frozen.parent, src: current.frozen.projector.store };
        const base = doc?.base;
        if (base === undefined || seen.has(base)) return;
        seen.add(base);
        current = self.started.get(`${ref.project}/${base}`);
        if (current) yield { env: base, src: current.rt.source };
      }
    };
  }

  /** The base chain from `env` up, stopping at a repeat (which is then included). */
  private chain(project: string, env: EnvName): EnvName[] {
    const out = [env];
    let base = this.started.get(`${project}/${env}`) && getEnvironment(this.started.get(`${project}/${env}`)!.rt.source)?.base;
    while (base !== undefined) {
      out.push(base);
      if (out.indexOf(base) !== out.length - 1) break;
      const e = this.started.get(`${project}/${base}`);
      base = e ? getEnvironment(e.rt.source)?.base : undefined;
    }
    return out;
  }

  /** Sets (or with `null` removes) an environment's base, on behalf of `by`: refused for an unknown or archived base, or a cycle. */
  async rebase(project: string, env: string, base: string | null, by?: Principal): Promise<void> {
    const e = await this.get(project, env);
    const r = await e.rt.execute({ type: "RebaseEnvironment", base: base === null ? null : await this.proposedBase(project, logRef(project, base).env) }, { by });
    if (!r.ok) throw new Refused(r.rejection);
  }

  /** Archives an environment, on behalf of `by`. */
  async archive(project: string, env: string, by?: Principal): Promise<void> {
    const e = await this.get(project, env);
    const r = await e.rt.execute({ type: "ArchiveEnvironment", reason: "archived by user" }, { by });
    if (!r.ok) throw new Refused(r.rejection);
  }

  /** Pauses (`true`) or resumes an environment, on behalf of `by`: nothing new is assigned while it is paused. */
  async pause(project: string, env: string, paused: boolean, reason?: string, by?: Principal): Promise<void> {
    const e = await this.get(project, env);
    const r = await e.rt.execute(paused ? { type: "PauseEnvironment", ...(reason === undefined ? {} : { reason }) } : { type: "ResumeEnvironment" }, { by });
    if (!r.ok) throw new Refused(r.rejection);
  }

  /**
   * Branches `env` from `parent` as of the parent's sequence `at` (default:
   * its last), or as of the last commit at or before `atTime`, on behalf of `by`.
   */
  async branch(project: string, env: string, parent: string, at?: number, atTime?: number, by?: Principal): Promise<Env> {
    // An unknown parent, or a branch point outside its log, is the decider's to refuse.
    const p = await this.find(project, parent);
    let seq = at ?? p?.rt.lastSeq ?? 0;
    if (p && atTime !== undefined) {
      seq = 0;
      for await (const c of this.o.log.read(p.ref)) {
        if ((c.events[0]?.at ?? 0) > atTime) break;
        seq = c.seq;
      }
    }
    return this.get(project, env, { branch: { parent, at: seq }, by });
  }

  /**
   * A run that lives in the branch's parent (as of the branch point), or in
   * a base: brings it into the branch — the run, each step, and the results
   * they had, as reused from where they came from — so that steps of it can
   * be re-run there (on behalf of `by`, who asked for the re-run). Does
   * nothing if the branch has the run already; brings nothing if `check`
   * refuses the run as found.
   */
  async importRun(e: Env, runId: RunId, check?: (view: RunView) => Rejection | undefined, by?: Principal): Promise<RunView | undefined> {
    const own = getRunView(e.rt.source, runId);
    if (own) return own;
    const from = this.findRun(e, runId);
    if (!from) return undefined;
    const { env, view, seq } = from;
    const refusal = check?.(view);
    if (refusal) throw new Refused(refusal);
    for (let i = 0; i < view.steps.length; i += IMPORT_CHUNK) {
      const r = await e.rt.execute({
        type: "ImportRun",
        from: { env, seq },
        run: view.run,
        steps: view.steps.slice(i, i + IMPORT_CHUNK),
        first: i === 0,
      }, { by });
      if (!r.ok) throw new Refused(r.rejection);
    }
    return getRunView(e.rt.source, runId);
  }

  /**
   * The log that holds a run an environment sees but does not have (for
   * time travel): its frozen parent's up to the branch point (`upTo`), or a
   * base's as it is now (no `upTo`). Undefined when the environment has the
   * run itself, or sees it nowhere.
   */
  holderOf(e: Env, runId: RunId): { readonly env: EnvName; readonly ref: LogRef; readonly upTo?: number } | undefined {
    if (getRunView(e.rt.source, runId)) return undefined;
    const from = this.findRun(e, runId);
    if (!from) return undefined;
    const ref = logRef(e.ref.project, from.env);
    return e.frozen && from.env === e.frozen.parent ? { env: from.env, ref, upTo: e.frozen.at } : { env: from.env, ref };
  }

  /** Where an environment can see a run it does not have: its frozen parent view, or its bases. */
  private findRun(e: Env, runId: RunId): { env: EnvName; view: RunView; seq: number } | undefined {
    const look = (src: DocSource, env: EnvName, seq: number) => {
      const view = getRunView(src, runId);
      return view ? { env, view, seq } : undefined;
    };
    if (e.frozen) {
      const found = look(e.frozen.projector.store, e.frozen.parent, e.frozen.at);
      if (found) return found;
    }
    for (const base of this.chain(e.ref.project, e.ref.env).slice(1)) {
      const b = this.started.get(`${e.ref.project}/${base}`);
      const found = b && look(b.rt.source, base, b.rt.lastSeq);
      if (found) return found;
    }
    return undefined;
  }

  /** Rebuilds an environment's projections, and a branch's frozen view of its parent too. */
  async rebuild(e: Env): Promise<number> {
    if (e.frozen) await e.frozen.projector.rebuild("requested");
    return e.rt.rebuild();
  }

  async close(): Promise<void> {
    for (const p of this.starting.values()) {
      const env = await p.catch(() => undefined);
      if (!env) continue;
      env.pools?.close();
      env.scheduler.close();
      env.logs.flush();
      await env.rt.close();
      await env.frozen?.projector.store.close();
    }
  }
}

/** Why the first command of a new environment would be refused, decided on the state of no log at all. */
const refusalOf = (first: Command): Rejection | undefined => {
  const ids = new IdGenerator();
  const d = decide(first, modelOf(new MemoryStore(PROJECTIONS)), { now: Date.now(), id: () => ids.next() as EventId });
  return d._tag === "Left" ? d.left : undefined;
};
