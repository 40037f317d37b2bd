import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { MongoStore } from '../mongo/mongo-store';
import { SqliteStore } from '../sqlite/sqlite-store';
import { PortAdapters, Store } from '../store';
import { CompiledAdapter, compileAdapter } from './compile-adapter';

export const MONGODB_URI = process.env.MONGODB_URI;

export interface ContractContext<T> {
  /** The adapter under test, built fresh (on an empty store) before each test. */
  sut: () => T;
  /** The store it runs on, for tests that need a second adapter on the same store. */
  store: () => Store;
  driver: () => 'sqlite' | 'mongo';
}

/**
 * Runs one contract suite for a port against every store available: SQLite always,
 * MongoDB when MONGODB_URI is set (reported as skipped otherwise, never silently passed).
 * The adapter is built by Nest (`compileAdapter`), its real lifecycle hooks called.
 */
export function describeStoreContract<T>(
  title: string,
  adapters: PortAdapters<T>,
  body: (ctx: ContractContext<T>) => void,
): void {
  describe(`${title} [sqlite]`, () => {
    let dir: string;
    let store: SqliteStore;
    let compiled: CompiledAdapter<T>;
    beforeEach(async () => {
      dir = mkdtempSync(join(tmpdir(), 'mdai-contract-'));
      store = new SqliteStore(join(dir, 'contract.sqlite'));
      compiled = await compileAdapter(store, adapters);
    });
    afterEach(async () => {
      await compiled.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    });
    body({ sut: () => compiled.adapter, store: () => store, driver: () => 'sqlite' });
  });

  const describeMongo = MONGODB_URI ? describe : describe.skip;
  describeMongo(
    `${title} [mongo]${MONGODB_URI ? '' : ' (skipped: MONGODB_URI is not set)'}`,
    () => {
      let store: MongoStore;
      let compiled: CompiledAdapter<T>;
      beforeEach(async () => {
        // mongoose is loaded only when a MongoDB run happens
        const mongoose = await import('mongoose');
        const connection = mongoose.createConnection(MONGODB_URI!, {
          dbName: `mdai_contract_${randomBytes(6).toString('hex')}`,
          serverSelectionTimeoutMS: 5000,
        });
        await connection.asPromise();
        store = new MongoStore(connection, true);
        compiled = await compileAdapter(store, adapters);
      });
      afterEach(async () => {
        await compiled.close();
        await store.connection.dropDatabase();
        await store.close();
      });
      body({ sut: () => compiled.adapter, store: () => store, driver: () => 'mongo' });
    },
  );
}
