import type { Database } from 'better-sqlite3';

/**
 * A transaction that only reads, in the one way the lint rule `mdai/sqlite-transaction-mode`
 * (scripts/eslint/sqlite-transaction-mode.js) lets a transaction begin DEFERRED: one snapshot
 * for all its reads, and no write lock taken (so it waits for no writer, and none for it).
 * A transaction that writes begins IMMEDIATE instead (`db.transaction(fn).immediate()`):
 * deferred, a read before its first write fails that write at once with SQLITE_BUSY while
 * another connection writes, with no wait, since SQLite does not upgrade a read snapshot.
 *
 * Outside production (tests, development) its reads run with `PRAGMA query_only` set, so any
 * write in `read` (or in a transaction nested in it) fails at once with `WriteInReadTransaction`,
 * in every run of the code, not only when another connection happens to hold the lock. Not in
 * production (NODE_ENV=production): SQLite sets that flag when it compiles the pragma and then
 * expires every prepared statement of the connection, which all compile again at their next
 * run; there a read transaction costs what the raw deferred one did (docs/benchmarks.md, txlock).
 * Nested in a read transaction, `read` runs in that one's snapshot; nested in a write
 * transaction, in a savepoint of it.
 */
export function readTransaction<T>(db: Database, read: () => T): T {
  // eslint-disable-next-line mdai/sqlite-transaction-mode -- production: the deferred transaction, unguarded (see above)
  if (!GUARDED) return db.transaction(read)();
  if (reading.has(db)) return read();
  // exec, not a statement prepared once: SQLite sets a flag pragma when it compiles it
  db.exec('PRAGMA query_only = 1');
  reading.add(db);
  try {
    // eslint-disable-next-line mdai/sqlite-transaction-mode -- the one deferred transaction: query_only refuses its writes
    return db.transaction(read)();
  } catch (error) {
    // exactly SQLITE_READONLY (query_only); a read-only file's SQLITE_READONLY_* stay as they are
    if ((error as { code?: unknown }).code === 'SQLITE_READONLY') {
      throw new WriteInReadTransaction((error as Error).message);
    }
    throw error;
  } finally {
    reading.delete(db);
    db.exec('PRAGMA query_only = 0');
  }
}

/**
 * A write tried in `readTransaction`: a programming error (a 500), not the storage's state, so
 * it carries no SQLite code (a 503 `storage_unavailable` would hide it).
 */
export class WriteInReadTransaction extends Error {
  constructor(detail: string) {
    super(
      `A write in readTransaction (${detail}): a transaction that writes begins IMMEDIATE, db.transaction(fn).immediate()`,
    );
    this.name = 'WriteInReadTransaction';
  }
}

/** Read once: the guard is a check of the code, on wherever the code is tested. */
const GUARDED = process.env.NODE_ENV !== 'production';
const reading = new WeakSet<Database>();
