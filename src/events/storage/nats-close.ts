/**
 * Closing a NATS connection without hanging: `drain()` flushes what is
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
