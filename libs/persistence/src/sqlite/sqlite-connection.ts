import Database from 'better-sqlite3';

/**
 * better-sqlite3's addon where its install puts it (prebuilt or compiled), given to it directly:
 * otherwise it finds the file with the `bindings` package, which tries ~10 candidate paths with
 * a `require` each (~5 ms of boot). Where the file is not there, `bindings` finds it as before.
 */
const NATIVE_BINDING = ((): string | undefined => {
  try {
    return require.resolve('better-sqlite3/build/Release/better_sqlite3.node');
  } catch {
    return undefined;
  }
})();

/**
 * A connection to the store's file with the store's settings: the store's own, and each other
 * thread's that writes to the same file (the ledger's append thread).
 */
export function openSqliteConnection(path: string): Database.Database {
  const db = new Database(path, { nativeBinding: NATIVE_BINDING });
  db.pragma('journal_mode = WAL');
  // NORMAL in WAL mode survives a process crash (SIGKILL); only an OS crash may lose the last commits
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  // 64 MiB of page cache (SQLite's default is 2 MiB): at a million ledger links the indexes
  // a sync batch touches (packet_id, worker and device time) no longer fit in 2 MiB, and each
  // miss is a read from the OS cache. Pages are cached as they are used: idle memory is not.
  db.pragma('cache_size = -65536');
  return db;
}
