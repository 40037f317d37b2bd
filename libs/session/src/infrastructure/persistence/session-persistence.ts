import { PortAdapters } from '@app/persistence';
import { MongoSessionRepository } from './mongo/repositories/mongo-session.repository';
import { SessionRepository } from './session.repository';
import { SqliteSessionRepository } from './sqlite/repositories/sqlite-session.repository';

export const sessionAdapters: PortAdapters<SessionRepository> = {
  sqlite: (store) => new SqliteSessionRepository(store),
  mongo: (store) => new MongoSessionRepository(store),
};
