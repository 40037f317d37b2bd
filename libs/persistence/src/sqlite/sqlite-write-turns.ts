/** No further argument for a synchronous write; one that cannot be given for a promise. */
type NotAPromise<T> = [T] extends [never]
  ? []
  : [T] extends [PromiseLike<unknown>]
    ? [promise: never]
    : [];

/**
 * The turns of this process's writers to the store's file. SQLite lets one connection write at a
 * time; a connection that finds the write lock taken waits in its busy handler, which *sleeps*
 * (1, 2, 5, 10, 15, 20 ms…, `busy_timeout`) and holds its thread meanwhile. The ledger's append
 * thread writes on a connection of its own: without turns, a write of the request's thread that
 * comes while an append commits puts the whole event loop to sleep, up to tens of ms each time,
 * and the sleeps overshoot the append they wait for.
 *
 * With turns, a write of the store's connection (`write`, synchronous) waits for the append
 * thread's task that holds the turn (`hold`) by awaiting, not sleeping: the loop serves other
 * requests meanwhile. Turns go in the order they were asked (FIFO), so neither side starves.
 * Uncontended, `write` runs its function at once, in the caller's tick, as before, unless the
 * checkpoint thread asks the writers to pause (`pace`).
 *
 * `busy_timeout` still covers the writers turns do not see: another process on the file, and the
 * checkpoint thread's TRUNCATE and its write that starts the WAL over. It covers a write that
 * asks for the lock first only (an autocommit statement, a transaction begun IMMEDIATE): a
 * deferred transaction that reads first fails its first write at once with SQLITE_BUSY while
 * another connection holds the lock, so every transaction that writes begins IMMEDIATE (the
 * lint rule mdai/sqlite-transaction-mode; reads of one snapshot: `readTransaction`).
 */
export class SqliteWriteTurns {
  private held = false;
  private readonly waiting: (() => void)[] = [];

  /**
   * @param pace asked before each write, once the turn is taken: a promise makes the writer wait
   *   for it while holding the turn, so that every writer of this process waits (the checkpoint
   *   thread's pauses: `SqliteCheckpointer.pace`).
   */
  constructor(private readonly pace?: () => Promise<void> | undefined) {}

  /**
   * Runs a write of the store's connection. Synchronous: it holds the turn only while it runs
   * (a function giving a promise would let the turn go before its write; the type refuses it).
   */
  async write<T>(write: () => T, ..._synchronous: NotAPromise<T>): Promise<T> {
    const turn = this.take();
    if (turn) await turn;
    try {
      const pause = this.pace?.();
      if (pause) await pause;
      return write();
    } finally {
      this.release();
    }
  }

  /** Holds the turn while `work` writes elsewhere (another thread's connection to the file). */
  async hold<T>(work: () => Promise<T>): Promise<T> {
    const turn = this.take();
    if (turn) await turn;
    try {
      const pause = this.pace?.();
      if (pause) await pause;
      return await work();
    } finally {
      this.release();
    }
  }

  /** Takes the turn now (undefined), or a promise that resolves when it is handed over. */
  private take(): Promise<void> | undefined {
    if (!this.held) {
      this.held = true;
      return undefined;
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** Hands the turn to the next in line (it stays held: no one barges in between). */
  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.held = false;
  }
}
