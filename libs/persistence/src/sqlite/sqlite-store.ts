import Database from 'better-sqlite3';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { SqliteMigration, SqliteStoreHandle, Store } from '../store';

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

/**
 * The embedded store: one SQLite file in WAL mode. better-sqlite3 is synchronous, so every
 * statement is short and ports stay async; invariants use `db.transaction()` (BEGIN IMMEDIATE
 * where a read decides a write, so two API processes on one file serialize too).
 */
export class SqliteStore extends Store implements SqliteStoreHandle {
  readonly driver = 'sqlite' as const;
  readonly db: Database.Database;

  constructor(readonly path: string) {
    super();
    if (path !== ':memory:') {
      // worker names, phone numbers and the audit trail: a new file (and the directories made
      // for it) are the server user's alone; SQLite gives its -wal and -shm files the same
      // mode. An existing file keeps the mode its operator gave it.
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      closeSync(openSync(path, 'a', 0o600));
    }
    this.db = openSqliteConnection(path);
    this.db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      scope TEXT NOT NULL,
      version INTEGER NOT NULL,
      name TEXT NOT NULL,
      applied_at TEXT NOT NULL,
      PRIMARY KEY (scope, version)
    )`);
  }

  migrate(scope: string, migrations: SqliteMigration[]): void {
    const sorted = [...migrations].sort((a, b) => a.version - b.version);
    const apply = this.db.transaction(() => {
      const applied = new Set(
        this.db
          .prepare<[string], { version: number }>(
            'SELECT version FROM schema_migrations WHERE scope = ?',
          )
          .all(scope)
          .map((row) => row.version),
      );
      for (const migration of sorted) {
        if (applied.has(migration.version)) continue;
        this.db.exec(migration.up);
        this.db
          .prepare(
            'INSERT INTO schema_migrations (scope, version, name, applied_at) VALUES (?, ?, ?, ?)',
          )
          .run(scope, migration.version, migration.name, new Date().toISOString());
      }
    });
    apply.immediate();
  }

  async ping(): Promise<void> {
    this.db.prepare('SELECT 1').get();
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
