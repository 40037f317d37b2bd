// Mongo adapters are imported when MongoDB is the store, so SQLite never loads mongoose
import { PortAdapters } from '@app/persistence';
import { SqliteTlogRepository } from './sqlite/sqlite-tlog.repository';
import { TlogRepository } from './tlog.repository';

export const tlogAdapters: PortAdapters<TlogRepository> = {
  sqlite: SqliteTlogRepository,
  mongo: async () => (await import('./mongo/mongo-tlog.repository')).MongoTlogRepository,
};
