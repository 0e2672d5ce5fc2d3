/**
 * The server's push of an environment's changes (`GET …/envs/{env}/changes`,
 * Server-Sent Events; docs/api.md "Changes"), one stream per environment
 * shared by every view that listens. Read with `fetch` rather than
 * `EventSource`, so that the token goes in the `Authorization` header (an
 * `EventSource` sends none, and a token in the URL would end up in logs).
 * A dropped stream is opened again after {@link RETRY_MS}, resuming after the
 * last sequence it saw (`?after=`): the server sends what was missed. While it
 * is down listeners hear `down` (and poll slowly), `up` once it is back.
 */
import type { ChangesMessage } from "../protocol/api.js";
import { token } from "./api.js";

export type Change = { readonly kind: "changes"; readonly message: ChangesMessage } | { readonly kind: "reset" } | { readonly kind: "down" } | { readonly kind: "up" };
export type ChangeListener = (c: Change) => void;

const RETRY_MS = 2000;

class Stream {
  readonly listeners = new Set<ChangeListener>();
  private seq: number | undefined;
  private abort: AbortController | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private down = false;
  private stopped = false;
  /** The server refused it (401, 403, 404): not asked again; a new subscriber gets a new stream. */
  refused = false;

  constructor(private readonly path: string) {}

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
  }

  private async connect(): Promise<void> {
    const abort = (this.abort = new AbortController());
    const headers: Record<string, string> = { accept: "text/event-stream" };
    const t = token();
    if (t) headers["authorization"] = `Bearer ${t}`;
    const resumed = this.seq !== undefined;
    let fatal = false;
    try {
      const res = await fetch(resumed ? `${this.path}?after=${this.seq}` : this.path, { headers, signal: abort.signal, cache: "no-store" });
      // Refused (no token, no access, no environment): the views say so from their own calls; no point asking again.
      if (res.status === 401 || res.status === 403 || res.status === 404) fatal = true;
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
    else this.timer = setTimeout(() => void this.connect(), RETRY_MS);
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
      if (wasDown) this.emit({ kind: "up" });
      // Back without knowing where it was: what changed meanwhile is unknown.
      if (wasDown && !resumed) this.emit({ kind: "reset" });
      if (this.seq === undefined) this.seq = (JSON.parse(data) as { seq: number }).seq;
    } else if (name === "changes") {
      const message = JSON.parse(data) as ChangesMessage;
      this.seq = message.seq;
      this.emit({ kind: "changes", message });
    } else if (name === "reset") {
      this.seq = (JSON.parse(data) as { seq: number }).seq;
      this.emit({ kind: "reset" });
    }
  }
}

const streams = new Map<string, Stream>();

/** The path of an environment's stream. */
export const changesPath = (project: string, env: string): string => `/api/projects/${encodeURIComponent(project)}/envs/${encodeURIComponent(env)}/changes`;

/** Listens to the changes of `project/env` (opening its stream if none is open); returns the unsubscription (the last one closes it). */
export const subscribeChanges = (project: string, env: string, f: ChangeListener): (() => void) => {
  const path = changesPath(project, env);
  // One per token too: after signing in (or out) the views subscribe again, and get a stream with the new token.
  const key = `${path}\0${token() ?? ""}`;
  let s = streams.get(key);
  if (!s || s.refused) {
    streams.set(key, (s = new Stream(path)));
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
