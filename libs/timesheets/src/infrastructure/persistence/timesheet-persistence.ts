import { PortAdapters } from '@app/persistence';
import { MongoTimesheetRepository } from './mongo/repositories/mongo-timesheet.repository';
import { SqliteTimesheetRepository } from './sqlite/repositories/sqlite-timesheet.repository';
import { TimesheetRepository } from './timesheet.repository';

export const timesheetAdapters: PortAdapters<TimesheetRepository> = {
  sqlite: (store) => new SqliteTimesheetRepository(store),
  mongo: (store) => new MongoTimesheetRepository(store),
};
