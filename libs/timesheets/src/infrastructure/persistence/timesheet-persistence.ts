// Mongo adapters are imported when MongoDB is the store, so SQLite never loads mongoose
import { PortAdapters } from '@app/persistence';
import { SqliteTimesheetRepository } from './sqlite/repositories/sqlite-timesheet.repository';
import { TimesheetRepository } from './timesheet.repository';

export const timesheetAdapters: PortAdapters<TimesheetRepository> = {
  sqlite: SqliteTimesheetRepository,
  mongo: async () =>
    (await import('./mongo/repositories/mongo-timesheet.repository')).MongoTimesheetRepository,
};
