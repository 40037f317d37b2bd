import { PortAdapters } from '@app/persistence';
import { MongoWifiChallengeRepository } from './mongo/repositories/mongo-wifi-challenge.repository';
import { SqliteWifiChallengeRepository } from './sqlite/repositories/sqlite-wifi-challenge.repository';
import { WifiChallengeRepository } from './wifi-challenge.repository';

export const provisioningAdapters: PortAdapters<WifiChallengeRepository> = {
  sqlite: (store) => new SqliteWifiChallengeRepository(store),
  mongo: (store) => new MongoWifiChallengeRepository(store),
};
