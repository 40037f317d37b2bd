// Mongo adapters are imported when MongoDB is the store, so SQLite never loads mongoose
import { PortAdapters } from '@app/persistence';
import { FraudEventRepository } from './fraud-event.repository';
import { SqliteFraudEventRepository } from './sqlite/repositories/sqlite-fraud-event.repository';

export const fraudEventAdapters: PortAdapters<FraudEventRepository> = {
  sqlite: SqliteFraudEventRepository,
  mongo: async () =>
    (await import('./mongo/repositories/mongo-fraud-event.repository')).MongoFraudEventRepository,
};
