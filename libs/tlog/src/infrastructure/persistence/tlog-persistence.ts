import { PortAdapters } from '@app/persistence';
import { MongoTlogRepository } from './mongo/mongo-tlog.repository';
import { SqliteTlogRepository } from './sqlite/sqlite-tlog.repository';
import { TlogRepository } from './tlog.repository';

export const tlogAdapters: PortAdapters<TlogRepository> = {
  sqlite: (store) => new SqliteTlogRepository(store),
  mongo: (store) => new MongoTlogRepository(store),
};
