// Mongo adapters are imported when MongoDB is the store, so SQLite never loads mongoose
import { PortAdapters } from '@app/persistence';
import { SqliteWifiChallengeRepository } from './sqlite/repositories/sqlite-wifi-challenge.repository';
import { WifiChallengeRepository } from './wifi-challenge.repository';

export const provisioningAdapters: PortAdapters<WifiChallengeRepository> = {
  sqlite: SqliteWifiChallengeRepository,
  mongo: async () =>
    (await import('./mongo/repositories/mongo-wifi-challenge.repository'))
      .MongoWifiChallengeRepository,
};
