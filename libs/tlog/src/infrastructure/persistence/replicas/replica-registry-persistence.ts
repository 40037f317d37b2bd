// Mongo adapters are imported when MongoDB is the store, so SQLite never loads mongoose
import { PortAdapters } from '@app/persistence';
import { ReplicaRegistryRepository } from './replica-registry.repository';
import { SqliteReplicaRegistryRepository } from './sqlite-replica-registry.repository';

/** How the replica registry is built on each store (the module and the contract suite). */
export const replicaRegistryAdapters: PortAdapters<ReplicaRegistryRepository> = {
  sqlite: SqliteReplicaRegistryRepository,
  mongo: async () =>
    (await import('./mongo-replica-registry.repository')).MongoReplicaRegistryRepository,
};
