import type { Database } from 'better-sqlite3';

/**
 * The two ways a chain append is made safe under concurrency, written once for every
 * hash-chained log (the attendance ledger, the vault audit log).
 */

/** SQLite's `PRAGMA synchronous = FULL`. */
const SYNCHRONOUS_FULL = 2;

/**
 * SQLite: runs `work` in one BEGIN IMMEDIATE transaction, which takes the write lock before
 * the head is read, so no other connection or process can append in between.
 *
 * The commit is durable across an OS crash or a power loss, not only a process crash: the
 * store's connections run WAL with `synchronous = NORMAL` (the WAL is synced at checkpoints
 * only, so the last commits before a power loss can be lost), and a chain's append is what
 * the server answers for (a punch the phone then drops from its queue, an audited vault
 * access), so its commit runs at `synchronous = FULL` (the WAL synced before the commit
 * returns: measured +2.5 ms per 500-link commit on this machine, docs/benchmarks.md, durable)
 * and the connection's level is put back after it. SQLite cannot change the level inside a
 * transaction: an append nested in one commits with the outer transaction, at its level.
 */
export function appendImmediate<T>(db: Database, work: () => T): T {
  const level = db.inTransaction
    ? SYNCHRONOUS_FULL
    : (db.pragma('synchronous', { simple: true }) as number);
  const immediate = immediateOf(db);
  if (level >= SYNCHRONOUS_FULL) return immediate(work) as T;
  // the pragmas are prepared each time: SQLite applies and reads `synchronous` when a PRAGMA
  // statement is prepared, not when it runs, so a statement kept would do nothing
  db.pragma('synchronous = FULL');
  try {
    return immediate(work) as T;
  } finally {
    db.pragma(`synchronous = ${level}`);
  }
}

/**
 * One `BEGIN IMMEDIATE` wrapper per connection, running the function it is given: better-sqlite3
 * builds a transaction function (four wrappers and their properties) on every `db.transaction`
 * call, which each append did (a vault read's audit record, every sync batch's append).
 */
const immediates = new WeakMap<Database, (work: () => unknown) => unknown>();

function immediateOf(db: Database): (work: () => unknown) => unknown {
  let immediate = immediates.get(db);
  if (!immediate) {
    immediate = db.transaction((work: () => unknown) => work()).immediate;
    immediates.set(db, immediate);
  }
  return immediate;
}

export const DUPLICATE_KEY = 11000;

/**
 * MongoDB: `attempt` reads the head and inserts the next link; a unique index on the
 * position makes a racing writer fail with a duplicate-key error, and it tries again after
 * a short random pause (so two writers do not collide forever).
 */
export async function appendWithRetry<T>(
  attempt: () => Promise<T>,
  what: string,
  maxAttempts = 200,
): Promise<T> {
  for (let n = 0; n < maxAttempts; n++) {
    try {
      return await attempt();
    } catch (error) {
      if ((error as { code?: number }).code !== DUPLICATE_KEY) throw error;
      if (n > 2) await new Promise((r) => setTimeout(r, Math.random() * Math.min(50, 2 * n)));
    }
  }
  throw new ChainAppendContendedError(`could not append to ${what} after ${maxAttempts} attempts`);
}

/**
 * Every try of a chain append lost to other writers: the store is too busy right now, not
 * broken (answered 503 `store_unavailable` by name: libs/common's `storeUnavailableOf`).
 */
export class ChainAppendContendedError extends Error {
  override readonly name = 'ChainAppendContendedError';
}
