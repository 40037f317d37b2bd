import { SqliteMigration } from '@app/persistence';

export const SESSION_SQLITE_MIGRATIONS: SqliteMigration[] = [
  {
    version: 1,
    name: 'pairing sessions',
    up: `
      CREATE TABLE pairing_sessions (
        id TEXT PRIMARY KEY,
        protocol TEXT NOT NULL CHECK (protocol IN ('pairing', 'legacy')),
        user_id TEXT,
        platform_id_sealed TEXT,
        platform_alias TEXT,
        status TEXT NOT NULL CHECK (status IN ('open', 'submitting', 'completed')),
        device_id TEXT,
        image_file_id TEXT,
        result_status TEXT,
        result_status_code INTEGER,
        result_latency_ms INTEGER,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        completed_at TEXT
      );
      CREATE INDEX pairing_sessions_expires ON pairing_sessions (expires_at);
    `,
  },
  {
    version: 2,
    name: "the phone's sealed outcome, kept until a phone socket has it",
    up: 'ALTER TABLE pairing_sessions ADD COLUMN outcome_sealed TEXT;',
  },
  {
    version: 3,
    name: "a legacy session's app use, kept with the session (the relay's Redis mark can be lost)",
    up: 'ALTER TABLE pairing_sessions ADD COLUMN app_used_at TEXT;',
  },
];
