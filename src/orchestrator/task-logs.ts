/**
 * Log lines written by task code (`context().log`), kept apart from the
 * event log so that replaying orchestration state never reads them: one
 * append-only JSON-lines file per environment under the data directory.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import type { LogLine } from "../protocol/api.js";
import { fromJson, toJson } from "../protocol/json.js";

/** A line of task log, as the API serves it. */
export type TaskLogLine = LogLine;

export class TaskLogs {
  private buffer: string[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly listeners = new Set<(line: TaskLogLine) => void>();

  constructor(private readonly file: string) {
    mkdirSync(dirname(file), { recursive: true });
  }

  append(line: TaskLogLine & { type?: string }): void {
    const { type: _t, ...rest } = line;
    this.buffer.push(toJson(rest));
    for (const l of this.listeners) l(rest);
    this.timer ??= setTimeout(() => this.flush(), 50);
  }

  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.buffer.length === 0) return;
    appendFileSync(this.file, this.buffer.join("\n") + "\n");
    this.buffer = [];
  }

  /** Every line of one run, in the order written. */
  read(runId: string): TaskLogLine[] {
    this.flush();
    if (!existsSync(this.file)) return [];
    const out: TaskLogLine[] = [];
    for (const text of readFileSync(this.file, "utf8").split("\n")) {
      if (!text) continue;
      try {
        const line = fromJson(text) as TaskLogLine;
        if (line.runId === runId) out.push(line);
      } catch {
        // a torn last line after a crash: skip it
      }
    }
    return out;
  }

  /** Calls `f` with each new line until the returned function is called. */
  follow(f: (line: TaskLogLine) => void): () => void {
    this.listeners.add(f);
    return () => this.listeners.delete(f);
  }
}
