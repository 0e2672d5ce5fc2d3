import type { Consumer, ConsumerMessages, JsMsg } from "@nats-io/jetstream";
import type { Subscription } from "../log.js";
import type { Commit } from "../types.js";

/**
 * A live feed from an ordered consumer. The consumer is created on the first
 * iteration and deleted when the iteration ends.
 */
export class JetStreamSubscription implements Subscription {
  #closed = false;
  #messages: ConsumerMessages | undefined;

  constructor(
    private readonly open: () => Promise<Consumer>,
    private readonly consume: (consumer: Consumer) => Promise<ConsumerMessages>,
    private readonly toCommit: (m: JsMsg) => Commit,
    private readonly translate: (cause: unknown) => Error,
  ) {}

  async *[Symbol.asyncIterator](): AsyncIterator<Commit> {
    if (this.#closed) return;
    const consumer = await this.open();
    try {
      if (this.#closed) return;
      const messages = await this.consume(consumer);
      this.#messages = messages;
      if (this.#closed) return;
      for await (const m of messages) {
        if (this.#closed) return;
        yield this.toCommit(m);
      }
    } catch (cause) {
      if (this.#closed) return;
      throw this.translate(cause);
    } finally {
      this.#messages?.stop();
      void consumer.delete().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    // Ends a `for await` that is waiting for the next message.
    this.#messages?.stop();
  }
}
