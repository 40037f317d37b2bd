// Mongo adapters are imported when MongoDB is the store, so SQLite never loads mongoose
import { PortAdapters } from '@app/persistence';
import { SqliteWorkforceRepository } from './sqlite/repositories/sqlite-workforce.repository';
import { WorkforceRepository } from './workforce.repository';

/** How the workforce port is built on each store (used by the module and the contract suite). */
export const workforceAdapters: PortAdapters<WorkforceRepository> = {
  sqlite: SqliteWorkforceRepository,
  mongo: async () =>
    (await import('./mongo/repositories/mongo-workforce.repository')).MongoWorkforceRepository,
};
