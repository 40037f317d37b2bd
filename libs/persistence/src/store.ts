import type Database from 'better-sqlite3';
import type { Connection } from 'mongoose';
import type { Type } from '@nestjs/common';
import type { SqliteCheckpoints } from './sqlite/sqlite-store';
import type { SqliteWriteTurns } from './sqlite/sqlite-write-turns';

export type StoreDriver = 'sqlite' | 'mongo';

/** One versioned SQLite schema step of one module. Applied once, in order, at boot. */
export interface SqliteMigration {
  version: number;
  name: string;
  up: string;
}

/** The opened store. Adapters receive the variant they were written for. */
export abstract class Store {
  abstract readonly driver: StoreDriver;
  abstract ping(): Promise<void>;
  abstract close(): Promise<void>;

  /** What `/health` shows of the store beside its status (never a secret). */
  healthDetails(): Record<string, string> {
    return { driver: this.driver };
  }
}

/**
 * The SQLite store as its adapters see it; also the DI token they inject it by (provided only
 * when SQLite is the store).
 */
export abstract class SqliteStoreHandle {
  abstract readonly driver: 'sqlite';
  abstract readonly db: Database.Database;
  /** Who checkpoints the WAL: a thread of the store's (`worker`) or each connection's commits. */
  abstract readonly checkpoints: SqliteCheckpoints;
  /**
   * The turns of this process's writers to the file (`SqliteWriteTurns`): a write of `db` that
   * can meet another thread's write (the ledger's append thread) takes one.
   */
  abstract readonly writeTurns: SqliteWriteTurns;
  /**
   * The `wal_autocheckpoint` every connection of this process to the file should have now (the
   * store's own has it): a backstop while the checkpoint thread is up, SQLite's 1,000 otherwise.
   * A connection of another thread (the ledger's append thread) follows it before each write.
   */
  abstract autocheckpointPages(): number;
  /** Applies the not-yet-applied migrations of `scope` (a module name) in one transaction. */
  abstract migrate(scope: string, migrations: SqliteMigration[]): void;
}

/**
 * The MongoDB store as its adapters see it; also the DI token they inject it by (provided only
 * when MongoDB is the store).
 */
export abstract class MongoStoreHandle {
  abstract readonly driver: 'mongo';
  abstract readonly connection: Connection;
}

/**
 * One port's adapters: `@Injectable()` classes that Nest builds (so an adapter can inject the
 * store handle, `Clock`, a logger or config) and whose lifecycle hooks Nest calls. The Mongo
 * class is imported on demand: mongoose and the schemas then load only when MongoDB is the store.
 */
export interface PortAdapters<T> {
  sqlite: Type<T>;
  mongo: () => Promise<Type<T>>;
}
