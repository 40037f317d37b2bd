import { PortAdapters } from '@app/persistence';
import { AttendanceLogRepository } from './attendance-log.repository';
import { LedgerCheckpointRepository } from './ledger-checkpoint.repository';
import { MongoAttendanceLogRepository } from './mongo/repositories/mongo-attendance-log.repository';
import { MongoLedgerCheckpointRepository } from './mongo/repositories/mongo-ledger-checkpoint.repository';
import { SqliteAttendanceLogRepository } from './sqlite/repositories/sqlite-attendance-log.repository';
import { SqliteLedgerCheckpointRepository } from './sqlite/repositories/sqlite-ledger-checkpoint.repository';

export const attendanceLogAdapters: PortAdapters<AttendanceLogRepository> = {
  sqlite: (store) => new SqliteAttendanceLogRepository(store),
  mongo: (store) => new MongoAttendanceLogRepository(store),
};

export const ledgerCheckpointAdapters: PortAdapters<LedgerCheckpointRepository> = {
  sqlite: (store) => new SqliteLedgerCheckpointRepository(store),
  mongo: (store) => new MongoLedgerCheckpointRepository(store),
};
