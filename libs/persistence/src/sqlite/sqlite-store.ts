import type Database from 'better-sqlite3';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { SqliteMigration, SqliteStoreHandle, Store } from '../store';
import {
  AUTOCHECKPOINT_PAGES,
  SqliteCheckpointer,
  SqliteCheckpointerOptions,
} from './sqlite-checkpointer';
import { openSqliteConnection } from './sqlite-connection';
import { WalIndexHeader } from './sqlite-wal-index';
import { SqliteWriteTurns } from './sqlite-write-turns';

export { openSqliteConnection };

/**
 * Who copies the WAL into the database file: a thread of its own (`worker`, see
 * `SqliteCheckpointer`) or, as SQLite does by default, the commit that takes the WAL past
 * 1,000 pages (`connection`).
 */
export type SqliteCheckpoints = 'worker' | 'connection';

export interface SqliteStoreOptions {
  /** `connection` unless given (the API's default is `worker`: SQLITE_CHECKPOINTS). */
  checkpoints?: SqliteCheckpoints;
  /** The checkpoint thread's timings (tests). */
  checkpointer?: SqliteCheckpointerOptions;
}

/**
 * The embedded store: one SQLite file in WAL mode. better-sqlite3 is synchronous, so every
 * statement is short and ports stay async. A transaction that writes begins IMMEDIATE,
 * `db.transaction(fn).immediate()`: the write lock first, so a read that decides a write cannot
 * fail that write with SQLITE_BUSY, and two API processes on one file serialize too; reads of one
 * snapshot go through `readTransaction` (sqlite-transactions.ts). The lint rule
 * mdai/sqlite-transaction-mode (scripts/eslint/) refuses any other transaction.
 */
export class SqliteStore extends Store implements SqliteStoreHandle {
  readonly driver = 'sqlite' as const;
  readonly db: Database.Database;
  readonly checkpoints: SqliteCheckpoints;
  /** The checkpoint thread's supervisor (`worker` checkpoints of a file only). */
  readonly checkpointer?: SqliteCheckpointer;
  readonly writeTurns: SqliteWriteTurns;
  /** The checkpointer's view of the WAL: its file closed after the last connection. */
  private readonly walIndex?: WalIndexHeader;

  constructor(
    readonly path: string,
    options: SqliteStoreOptions = {},
  ) {
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
    // an in-memory database has no WAL (and no other connection can see it)
    this.checkpoints = path === ':memory:' ? 'connection' : (options.checkpoints ?? 'connection');
    if (this.checkpoints === 'worker') {
      this.walIndex = new WalIndexHeader(resolve(path));
      this.checkpointer = new SqliteCheckpointer(this.db, path, {
        ...options.checkpointer,
        walIndex: this.walIndex,
      });
    }
    const checkpointer = this.checkpointer;
    // the writers pause while the thread copies a WAL that could not start over by itself
    this.writeTurns = new SqliteWriteTurns(checkpointer && (() => checkpointer.pace()));
  }

  autocheckpointPages(): number {
    return this.checkpointer?.autocheckpointPages() ?? AUTOCHECKPOINT_PAGES;
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
    }).immediate;
    apply();
  }

  async ping(): Promise<void> {
    this.db.prepare('SELECT 1').get();
  }

  override healthDetails(): Record<string, string> {
    if (!this.checkpointer) return { driver: this.driver, checkpoints: this.checkpoints };
    // a checkpoint thread that is down is restarted, and the commits checkpoint meanwhile:
    // the store still answers, so this is a detail of an `up` store, not a failure
    const thread = this.checkpointer.status().thread;
    return { driver: this.driver, checkpoints: this.checkpoints, checkpointThread: thread };
  }

  async close(): Promise<void> {
    // the thread's connection first: the main connection, closing last, checkpoints what is
    // left and removes the WAL
    await this.checkpointer?.close();
    if (this.db.open) this.db.close();
    this.walIndex?.close();
  }
}
