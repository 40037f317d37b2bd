// Mongo adapters are imported when MongoDB is the store, so SQLite never loads mongoose
import { PortAdapters } from '@app/persistence';
import { AttendanceLogRepository } from './attendance-log.repository';
import { SqliteAttendanceLogRepository } from './sqlite/repositories/sqlite-attendance-log.repository';

export const attendanceLogAdapters: PortAdapters<AttendanceLogRepository> = {
  sqlite: SqliteAttendanceLogRepository,
  mongo: async () =>
    (await import('./mongo/repositories/mongo-attendance-log.repository'))
      .MongoAttendanceLogRepository,
};
