import { SqliteMigration } from '@app/persistence';

export const LEDGER_SQLITE_MIGRATIONS: SqliteMigration[] = [
  {
    version: 1,
    name: 'attendance ledger and checkpoints',
    up: `
      CREATE TABLE attendance_logs (
        site_id TEXT NOT NULL,
        seq INTEGER NOT NULL CHECK (seq >= 1),
        packet_id TEXT NOT NULL UNIQUE,
        prev_hash TEXT NOT NULL,
        record_hash TEXT NOT NULL,
        data TEXT NOT NULL,
        meta TEXT NOT NULL,
        PRIMARY KEY (site_id, seq)
      ) WITHOUT ROWID;
      CREATE TRIGGER attendance_logs_append_only_update BEFORE UPDATE ON attendance_logs
        BEGIN SELECT RAISE(ABORT, 'attendance_logs is append-only'); END;
      CREATE TRIGGER attendance_logs_append_only_delete BEFORE DELETE ON attendance_logs
        BEGIN SELECT RAISE(ABORT, 'attendance_logs is append-only'); END;
      CREATE TABLE ledger_checkpoints (
        site_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        head_hash TEXT NOT NULL,
        signed_at TEXT NOT NULL,
        kid TEXT NOT NULL,
        alg TEXT NOT NULL,
        signature TEXT NOT NULL,
        PRIMARY KEY (site_id, seq)
      );
    `,
  },
];
