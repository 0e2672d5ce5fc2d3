/**
 * Throttling of what task code reports while it runs (progress, metrics):
 * per channel, at most one message every `intervalMs`; a message that comes
 * sooner replaces the one waiting and goes when the interval is up, so the
 * last one is always sent. `flush()` sends what waits at once (the
 * execution is ending: its reports go before its result).
 */
export class Throttle<M> {
  readonly #last = new Map<string, number>();
  readonly #pending = new Map<string, M>();
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly intervalMs: number,
    private readonly send: (m: M) => void,
    private readonly clock: () => number = Date.now,
  ) {}

  /** How many channels it has seen. */
  get channels(): number {
    return this.#last.size;
  }

  has(channel: string): boolean {
    return this.#last.has(channel);
  }

  push(channel: string, m: M): void {
    const now = this.clock();
    const last = this.#last.get(channel);
    if (last === undefined || now - last >= this.intervalMs) {
      this.#pending.delete(channel);
      this.#last.set(channel, now);
      this.send(m);
      return;
    }
    this.#pending.set(channel, m);
    this.#arm(last + this.intervalMs - now);
  }

  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const waiting = [...this.#pending.values()];
    this.#pending.clear();
    for (const m of waiting) this.send(m);
  }

  #arm(ms: number): void {
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#due();
    }, Math.max(1, ms));
  }

  #due(): void {
    const now = this.clock();
    let next: number | undefined;
    for (const [channel, m] of this.#pending) {
      const last = this.#last.get(channel) ?? 0;
      if (now - last >= this.intervalMs) {
        this.#pending.delete(channel);
        this.#last.set(channel, now);
        this.send(m);
      } else next = Math.min(next ?? Infinity, last + this.intervalMs - now);
    }
    if (next !== undefined) this.#arm(next);
  }
}
