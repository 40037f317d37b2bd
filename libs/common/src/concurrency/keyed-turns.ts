/**
 * Work run one at a time per key in this process, in the order it was asked for: a caller waits
 * for the earlier turns of its key (failed or not), then runs. With `maxWaitMs`, a caller waits
 * for the turn ahead of it at most that long after that turn started, then runs beside it (for
 * work that is correct without the turns and only faster with them: one stalled turn cannot hold
 * the others, while a long queue of quick turns still runs one at a time). A key with nothing
 * waiting holds no memory.
 */
export class KeyedTurns {
  private readonly tails = new Map<string, Turn>();

  constructor(private readonly maxWaitMs = Infinity) {}

  /** Runs `work` once every earlier turn of `key` has ended (or stalled past `maxWaitMs`). */
  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key);
    let begin!: () => void;
    const started = new Promise<void>((resolve) => (begin = resolve));
    const next = (previous ? this.waitFor(previous) : Promise.resolve()).then(() => {
      begin();
      return work();
    });
    const turn: Turn = {
      started,
      ended: next.then(
        () => undefined,
        () => undefined,
      ),
    };
    this.tails.set(key, turn);
    void turn.ended.then(() => {
      if (this.tails.get(key) === turn) this.tails.delete(key);
    });
    return next;
  }

  /** Settles when every turn of `key` asked for so far has ended (failed or not). */
  idle(key: string): Promise<void> {
    return this.tails.get(key)?.ended ?? Promise.resolve();
  }

  /** The turn ahead's end, or `maxWaitMs` after it started, whichever comes first. */
  private waitFor(previous: Turn): Promise<void> {
    if (this.maxWaitMs === Infinity) return previous.ended;
    let timer: NodeJS.Timeout | undefined;
    const stalled = previous.started.then(
      () =>
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, this.maxWaitMs);
          timer.unref();
        }),
    );
    return Promise.race([previous.ended, stalled]).finally(() => clearTimeout(timer));
  }
}

/** A turn asked for: when its work started, and when it ended (failed or not). */
interface Turn {
  started: Promise<void>;
  ended: Promise<void>;
}
