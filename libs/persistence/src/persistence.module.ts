import {
  DynamicModule,
  FactoryProvider,
  Global,
  Inject,
  InjectionToken,
  Module,
  OnApplicationShutdown,
  Provider,
  Type,
} from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { DatabaseSettings } from './database.config';
import { SqliteStore } from './sqlite/sqlite-store';
import { SqliteStoreMetrics } from './sqlite/sqlite-store.metrics';
import { MongoStoreHandle, PortAdapters, SqliteStoreHandle, Store } from './store';

/**
 * Opens the store chosen once from validated config (`DATABASE_URL` = mongodb://… → MongoDB,
 * unset → SQLite in DATA_DIR) and provides it as `Store` and as the handle its adapters inject
 * (`SqliteStoreHandle` or `MongoStoreHandle`); with SQLite, the checkpoint thread's gauges
 * (`SqliteStoreMetrics`). Domain modules bind their ports with `bindPort`,
 * never by testing the driver themselves.
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
      providers: [
        {
          provide: Store,
          useFactory: () =>
            new SqliteStore(settings.sqlitePath, { checkpoints: settings.checkpoints }),
        },
        { provide: SqliteStoreHandle, useExisting: Store },
        SqliteStoreMetrics,
      ],
      exports: [Store, SqliteStoreHandle],
    };
  }

  async onApplicationShutdown(): Promise<void> {
    await this.store.close();
  }
}

/**
 * Binds a port (an abstract class used as DI token) to its adapter for the opened store: the
 * adapter class is picked by the store's driver (the Mongo one imported only then) and built
 * by Nest in the binding module, so it gets its dependencies injected and its lifecycle hooks
 * called like any provider.
 */
export function bindPort<T>(port: InjectionToken, adapters: PortAdapters<T>): FactoryProvider<T> {
  return {
    provide: port,
    inject: [Store, ModuleRef],
    useFactory: async (store: Store, moduleRef: ModuleRef) =>
      moduleRef.create(await adapterClass(store, adapters)),
  };
}

/** The adapter class written for `store`. */
export async function adapterClass<T>(store: Store, adapters: PortAdapters<T>): Promise<Type<T>> {
  switch (store.driver) {
    case 'sqlite':
      return adapters.sqlite;
    case 'mongo':
      return adapters.mongo();
  }
}

/** `Store` and its handle token for a store opened outside `forRoot` (tests, benchmarks). */
export function storeProviders(store: Store): Provider[] {
  const handle = store.driver === 'sqlite' ? SqliteStoreHandle : MongoStoreHandle;
  return [
    { provide: Store, useValue: store },
    { provide: handle, useValue: store },
  ];
}
