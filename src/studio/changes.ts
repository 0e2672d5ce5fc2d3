/**
 * The server's push of an environment's changes (`GET …/envs/{env}/changes`,
 * Server-Sent Events; docs/api.md "Changes"), one stream per environment
 * shared by every view that listens. Read with `fetch` rather than
 * `EventSource`, so that the token goes in the `Authorization` header (an
 * `EventSource` sends none, and a token in the URL would end up in logs).
 * A dropped stream (a server restarted, a network gone) is opened again with
 * backoff ({@link RETRY_MS} doubling to {@link RETRY_MAX_MS}), resuming after
 * the last sequence it saw (`?after=`): the server sends what was missed.
 * While it is down listeners hear `down` (and poll slowly), `up` once it is
 * back; `useReconnecting` tells whether any stream is down.
 *
 * A project's stream (`GET /api/projects/{p}/changes`, `subscribeProject`)
 * is shared the same way; it resumes by its `ready` message: the
 * environments whose log lengths differ from those last heard are what was
 * missed, said as one `project` change.
 */
import type { ChangesMessage, ProjectChangesMessage } from "../protocol/api.js";
import { token } from "./api.js";

export type Change =
  | { readonly kind: "changes"; readonly message: ChangesMessage }
  | { readonly kind: "project"; readonly message: ProjectChangesMessage }
  | { readonly kind: "reset" }
  | { readonly kind: "down" }
  | { readonly kind: "up" };
export type ChangeListener = (c: Change) => void;

const RETRY_MS = 1000;
const RETRY_MAX_MS = 8000;

/** The streams down now (a connection state the header shows), and who wants to hear when that changes. */
const downStreams = new Set<Stream>();
const downListeners = new Set<(down: boolean) => void>();
const setDown = (s: Stream, down: boolean): void => {
  const was = downStreams.size > 0;
  if (down) downStreams.add(s);
  else downStreams.delete(s);
  if (was !== downStreams.size > 0) for (const f of [...downListeners]) f(downStreams.size > 0);
};

/** Whether a push stream is down now (reconnecting); calls `f` when that changes; returns the unsubscription. */
export const onReconnecting = (f: (down: boolean) => void): (() => void) => {
  downListeners.add(f);
  return () => void downListeners.delete(f);
};
export const reconnecting = (): boolean => downStreams.size > 0;

class Stream {
  readonly listeners = new Set<ChangeListener>();
  private seq: number | undefined;
  private abort: AbortController | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private down = false;
  private stopped = false;
  private retryMs = RETRY_MS;
  /** A project's stream: each environment's last sequence heard. */
  private known: Map<string, number> | undefined;
  /** The server refused it (401, 403, 404): not asked again; a new subscriber gets a new stream. */
  refused = false;

  constructor(
    private readonly path: string,
    private readonly project = false,
  ) {}

  private emit(c: Change): void {
    for (const f of [...this.listeners]) f(c);
  }

  start(): void {
    this.stopped = false;
    void this.connect();
  }

  stop(): void {
    this.stopped = true;
    this.abort?.abort();
    clearTimeout(this.timer);
    setDown(this, false);
  }

  private async connect(): Promise<void> {
    const abort = (this.abort = new AbortController());
    const headers: Record<string, string> = { accept: "text/event-stream" };
    const t = token();
    if (t) headers["authorization"] = `Bearer ${t}`;
    const resumed = this.seq !== undefined || this.known !== undefined;
    let fatal = false;
    try {
      const res = await fetch(this.seq !== undefined ? `${this.path}?after=${this.seq}` : this.path, { headers, signal: abort.signal, cache: "no-store" });
      // Refused (no token, no access, no environment): the views say so from their own calls; no point asking again.
      if (res.status === 400 || res.status === 401 || res.status === 403 || res.status === 404) fatal = true;
      if (!res.ok || !res.body) throw new Error(`${res.status}`);
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let cut: number;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          this.onMessage(buffer.slice(0, cut), resumed);
          buffer = buffer.slice(cut + 2);
        }
      }
    } catch {
      // dropped, refused or aborted: below
    }
    if (this.stopped || abort.signal.aborted) return;
    if (!this.down) {
      this.down = true;
      this.emit({ kind: "down" });
    }
    if (fatal) this.refused = true;
    else {
      setDown(this, true);
      this.timer = setTimeout(() => void this.connect(), this.retryMs);
      this.retryMs = Math.min(RETRY_MAX_MS, this.retryMs * 2);
    }
  }

  private onMessage(block: string, resumed: boolean): void {
    let name = "message";
    let data = "";
    for (const line of block.split("\n")) {
      if (line.startsWith("event: ")) name = line.slice(7);
      else if (line.startsWith("data: ")) data += line.slice(6);
    }
    if (name === "ready") {
      const wasDown = this.down;
      this.down = false;
      this.retryMs = RETRY_MS;
      setDown(this, false);
      if (wasDown) this.emit({ kind: "up" });
      if (this.project) return this.onProjectReady(JSON.parse(data) as ProjectChangesMessage);
      // Back without knowing where it was: what changed meanwhile is unknown.
      if (wasDown && !resumed) this.emit({ kind: "reset" });
      if (this.seq === undefined) this.seq = (JSON.parse(data) as { seq: number }).seq;
    } else if (name === "changes" && this.project) {
      const message = JSON.parse(data) as ProjectChangesMessage;
      for (const e of message.envs) this.known?.set(e.name, e.lastSeq);
      this.emit({ kind: "project", message });
    } else if (name === "changes") {
      const message = JSON.parse(data) as ChangesMessage;
      this.seq = message.seq;
      this.emit({ kind: "changes", message });
    } else if (name === "reset") {
      this.seq = (JSON.parse(data) as { seq: number }).seq;
      this.emit({ kind: "reset" });
    }
  }

  /** Back after a drop: the environments whose logs moved meanwhile (or that came or went) are one change. */
  private onProjectReady(m: ProjectChangesMessage): void {
    const before = this.known;
    this.known = new Map(m.envs.map((e) => [e.name, e.lastSeq]));
    if (!before) return;
    const moved = m.envs.filter((e) => before.get(e.name) !== e.lastSeq);
    if (moved.length > 0 || [...before.keys()].some((n) => !this.known!.has(n))) this.emit({ kind: "project", message: { envs: moved } });
  }
}

const streams = new Map<string, Stream>();

/** The path of an environment's stream. */
export const changesPath = (project: string, env: string): string => `/api/projects/${encodeURIComponent(project)}/envs/${encodeURIComponent(env)}/changes`;

/** Listens to the changes of `project/env` (opening its stream if none is open); returns the unsubscription (the last one closes it). */
export const subscribeChanges = (project: string, env: string, f: ChangeListener): (() => void) => subscribe(changesPath(project, env), false, f);

/** Listens to the changes of a project's environments (`kind: "project"`), one stream per project shared the same way. */
export const subscribeProject = (project: string, f: ChangeListener): (() => void) => subscribe(`/api/projects/${encodeURIComponent(project)}/changes`, true, f);

const subscribe = (path: string, project: boolean, f: ChangeListener): (() => void) => {
  // One per token too: after signing in (or out) the views subscribe again, and get a stream with the new token.
  const key = `${path}\0${token() ?? ""}`;
  let s = streams.get(key);
  if (!s || s.refused) {
    streams.set(key, (s = new Stream(path, project)));
    s.start();
  }
  s.listeners.add(f);
  const stream = s;
  return () => {
    stream.listeners.delete(f);
    if (stream.listeners.size > 0) return;
    // Closed a moment later: a view replaced by another of the same environment keeps the stream.
    setTimeout(() => {
      if (stream.listeners.size > 0) return;
      if (streams.get(key) === stream) streams.delete(key);
      stream.stop();
    }, 1000);
  };
};
