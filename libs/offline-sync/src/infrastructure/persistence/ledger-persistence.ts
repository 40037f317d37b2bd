import { PortAdapters } from '@app/persistence';
import { AttendanceLogRepository } from './attendance-log.repository';
import { MongoAttendanceLogRepository } from './mongo/repositories/mongo-attendance-log.repository';
import { SqliteAttendanceLogRepository } from './sqlite/repositories/sqlite-attendance-log.repository';

export const attendanceLogAdapters: PortAdapters<AttendanceLogRepository> = {
  sqlite: (store) => new SqliteAttendanceLogRepository(store),
  mongo: (store) => new MongoAttendanceLogRepository(store),
};
