import { SqliteMigration } from '@app/persistence';

/** A packet's signed timestamp as integer epoch milliseconds (the expression the indexes use). */
export const PACKET_AT_MS = `CAST(round(unixepoch(json_extract(data, '$.timestamp'), 'subsec') * 1000) AS INTEGER)`;
export const PACKET_WORKER = `json_extract(data, '$.workerId')`;
export const PACKET_DEVICE = `json_extract(data, '$.deviceId')`;

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
  {
    version: 2,
    name: 'packet time indexes for the fraud rules (worker and device history)',
    up: `
      CREATE INDEX attendance_logs_worker_at ON attendance_logs (${PACKET_WORKER}, ${PACKET_AT_MS}, packet_id);
      CREATE INDEX attendance_logs_device_at ON attendance_logs (${PACKET_DEVICE}, ${PACKET_AT_MS});
    `,
  },
  {
    version: 3,
    name: 'checkpoints moved to the shared transparency log (tlog_checkpoints)',
    up: `DROP TABLE ledger_checkpoints;`,
  },
];
