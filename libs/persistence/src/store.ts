import type Database from 'better-sqlite3';
import type { Connection } from 'mongoose';

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
}

export interface SqliteStoreHandle {
  readonly driver: 'sqlite';
  readonly db: Database.Database;
  /** Applies the not-yet-applied migrations of `scope` (a module name) in one transaction. */
  migrate(scope: string, migrations: SqliteMigration[]): void;
}

export interface MongoStoreHandle {
  readonly driver: 'mongo';
  readonly connection: Connection;
}

/**
 * How to build one port's adapter on each store. The Mongo side may be async so that it can
 * `import()` its adapter: mongoose and the schemas then load only when MongoDB is the store.
 */
export interface PortAdapters<T> {
  sqlite: (store: SqliteStoreHandle) => T;
  mongo: (store: MongoStoreHandle) => T | Promise<T>;
}
