import { PortAdapters } from '@app/persistence';
import { FraudEventRepository } from './fraud-event.repository';
import { MongoFraudEventRepository } from './mongo/repositories/mongo-fraud-event.repository';
import { SqliteFraudEventRepository } from './sqlite/repositories/sqlite-fraud-event.repository';

export const fraudEventAdapters: PortAdapters<FraudEventRepository> = {
  sqlite: (store) => new SqliteFraudEventRepository(store),
  mongo: (store) => new MongoFraudEventRepository(store),
};
