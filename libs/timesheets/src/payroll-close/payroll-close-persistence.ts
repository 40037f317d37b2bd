// Mongo adapters are imported when MongoDB is the store, so SQLite never loads mongoose
import { PortAdapters } from '@app/persistence';
import { PayrollCloseRepository } from './payroll-close.repository';
import { SqlitePayrollCloseRepository } from './sqlite-payroll-close.repository';

export const payrollCloseAdapters: PortAdapters<PayrollCloseRepository> = {
  sqlite: SqlitePayrollCloseRepository,
  mongo: async () => (await import('./mongo-payroll-close.repository')).MongoPayrollCloseRepository,
};
