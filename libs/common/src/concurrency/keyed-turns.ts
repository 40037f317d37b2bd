/**
 * Work run one at a time per key in this process, in the order it was asked for: a caller waits
 * for the earlier turns of its key (failed or not), then runs. With `maxWaitMs`, a caller waits
 * at most that long and then runs anyway, beside the turn it waited on (for work that is correct
 * without the turns, and only faster with them: one stalled turn cannot hold the others). A key
 * with nothing waiting holds no memory.
 */
export class KeyedTurns {
  private readonly tails = new Map<string, Promise<void>>();

  constructor(private readonly maxWaitMs = Infinity) {}

  /** Runs `work` once every earlier turn of `key` has ended (or `maxWaitMs` has passed). */
  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key);
    const next = (previous ? this.waitFor(previous) : Promise.resolve()).then(work);
    const tail = next.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return next;
  }

  /** Settles when every turn of `key` asked for so far has ended (failed or not). */
  idle(key: string): Promise<void> {
    return this.tails.get(key) ?? Promise.resolve();
  }

  private waitFor(previous: Promise<void>): Promise<void> {
    if (this.maxWaitMs === Infinity) return previous;
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.maxWaitMs);
      timer.unref();
    });
    return Promise.race([previous, waited]).finally(() => clearTimeout(timer));
  }
}
