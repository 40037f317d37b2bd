export * from './timesheets.module';
export * from './timesheet-projector.service';
export * from './timesheets.service';
export * from './domain/correction';
export * from './domain/timesheet-day';
export * from './domain/timesheet-entry';
export * from './domain/timesheet-csv';
export * from './timesheets.errors';
