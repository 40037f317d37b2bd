import {
  DynamicModule,
  Global,
  Inject,
  Module,
  OnApplicationShutdown,
  Provider,
} from '@nestjs/common';
import { DatabaseSettings } from './database.config';
import { MongoStore } from './mongo/mongo-store';
import { SqliteStore } from './sqlite/sqlite-store';
import { PortAdapters, Store } from './store';

/**
 * Opens the store chosen once from validated config (`DATABASE_URL` = mongodb://… → MongoDB,
 * unset → SQLite in DATA_DIR) and provides it as `Store`. Domain modules bind their ports
 * with `bindPort`, never by testing the driver themselves.
 */
@Global()
@Module({})
export class PersistenceModule implements OnApplicationShutdown {
  constructor(@Inject(Store) private readonly store: Store) {}

  static forRoot(settings: DatabaseSettings): DynamicModule {
    if (settings.driver === 'mongo') {
      // @nestjs/mongoose and mongoose load only here, when MongoDB is the store
      const url = settings.url;
      return {
        module: PersistenceModule,
        imports: [
          import('./mongo/mongo-store.module').then((m) => m.MongoStoreModule.forRoot(url)),
        ],
      };
    }
    return {
      module: PersistenceModule,
      providers: [{ provide: Store, useFactory: () => new SqliteStore(settings.sqlitePath) }],
      exports: [Store],
    };
  }

  async onApplicationShutdown(): Promise<void> {
    await this.store.close();
  }
}

/** Binds a port (an abstract class used as DI token) to its adapter for the opened store. */
export function bindPort<T>(
  port: abstract new (...args: never[]) => T,
  adapters: PortAdapters<T>,
): Provider {
  return {
    provide: port,
    inject: [Store],
    useFactory: (store: Store) => createAdapter(store, adapters),
  };
}

export function createAdapter<T>(store: Store, adapters: PortAdapters<T>): T | Promise<T> {
  if (store instanceof SqliteStore) return adapters.sqlite(store);
  if (store instanceof MongoStore) return adapters.mongo(store);
  throw new Error(`No adapter for store ${store.driver}`);
}
