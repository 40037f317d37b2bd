// Mongo adapters are imported when MongoDB is the store, so SQLite never loads mongoose
import { PortAdapters } from '@app/persistence';
import { SessionRepository } from './session.repository';
import { SqliteSessionRepository } from './sqlite/repositories/sqlite-session.repository';

export const sessionAdapters: PortAdapters<SessionRepository> = {
  sqlite: SqliteSessionRepository,
  mongo: async () =>
    (await import('./mongo/repositories/mongo-session.repository')).MongoSessionRepository,
};
