// Mongo adapters are imported when MongoDB is the store, so SQLite never loads mongoose
import { PortAdapters } from '@app/persistence';
import { SqliteStoreMacReplicaRepository } from './sqlite-store-mac-replica.repository';
import { StoreMacReplicaRepository } from './store-mac-replica.repository';

/** How the store-MAC replica record is built on each store (the module and the contract suite). */
export const storeMacReplicaAdapters: PortAdapters<StoreMacReplicaRepository> = {
  sqlite: SqliteStoreMacReplicaRepository,
  mongo: async () =>
    (await import('./mongo-store-mac-replica.repository')).MongoStoreMacReplicaRepository,
};
