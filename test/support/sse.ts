/** A reader of Server-Sent Events for the tests of the push streams (changes.e2e, project-changes.e2e). */
import { expect } from "vitest";

export interface Sse {
  readonly status: number;
  readonly messages: { event: string; id?: string; data: unknown }[];
  /** Resolves when the server ends the stream. */
  readonly ended: Promise<void>;
  close(): void;
}

/** Opens an event stream and parses its messages as they come. */
export const openSse = async (url: string, token: string, headers: Record<string, string> = {}): Promise<Sse> => {
  const abort = new AbortController();
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}`, ...headers }, signal: abort.signal });
  const messages: Sse["messages"] = [];
  let ended: Promise<void> = Promise.resolve();
  if (res.ok) {
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    ended = (async () => {
      let buffer = "";
      const decoder = new TextDecoder();
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          buffer += decoder.decode(chunk, { stream: true });
          let cut: number;
          while ((cut = buffer.indexOf("\n\n")) >= 0) {
            const block = buffer.slice(0, cut);
            buffer = buffer.slice(cut + 2);
            const m: { event: string; id?: string; data: unknown } = { event: "message", data: undefined };
            for (const line of block.split("\n")) {
              if (line.startsWith("event: ")) m.event = line.slice(7);
              else if (line.startsWith("id: ")) m.id = line.slice(4);
              else if (line.startsWith("data: ")) m.data = JSON.parse(line.slice(6));
            }
            if (m.data !== undefined) messages.push(m);
          }
        }
      } catch {
        // aborted by close(), or cut by the server
      }
    })();
  } else await res.text();
  return { status: res.status, messages, ended, close: () => abort.abort() };
};

