/**
 * What the NATS adapters share. Closing a connection without hanging: `drain()` flushes what is
 * pending but waits for a server round trip, which never comes while the
 * server is down and the client keeps reconnecting. Used by every adapter
 * that holds a connection (the JetStream log, the object-store blob store).
 */
import type { NatsConnection } from "@nats-io/transport-node";

/** Drains `nc`, or closes it outright if draining takes longer than `timeoutMs`. Never throws. */
export const closeNats = async (nc: NatsConnection, timeoutMs: number): Promise<void> => {
  if (nc.isClosed()) return;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), timeoutMs)));
  try {
    const drained = await Promise.race([nc.drain().then(() => "drained" as const), timedOut]);
    if (drained === "timeout") await nc.close();
  } catch {
    await nc.close().catch(() => undefined);
  } finally {
    clearTimeout(timer);
  }
};

export const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** The iterator's next value, or "timeout" after `ms`. */
export const nextWithin = async <T>(it: AsyncIterator<T>, ms: number): Promise<IteratorResult<T> | "timeout"> => {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([it.next(), new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), ms)))]);
  } finally {
    clearTimeout(timer);
  }
};

/** Is this (or its cause, a few levels down) NATS saying that nothing listens on the subject: JetStream is off or unreachable? */
export const hasNoResponders = (e: unknown): boolean => {
  for (let c: unknown = e, depth = 0; c instanceof Error && depth < 4; c = c.cause, depth++) {
    if (c.name === "NoRespondersError" || /no responders/i.test(c.message)) return true;
  }
  return false;
};
