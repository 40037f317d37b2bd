import { SqliteMigration } from '@app/persistence';

export const KIOSK_SQLITE_MIGRATIONS: SqliteMigration[] = [
  {
    version: 1,
    name: 'kiosk devices and events',
    up: `
      CREATE TABLE kiosk_devices (
        id TEXT PRIMARY KEY,
        device_id TEXT NOT NULL UNIQUE,
        public_key_pem TEXT NOT NULL,
        key_fingerprint TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('active', 'blocked')),
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
      CREATE TABLE kiosk_events (
        id TEXT PRIMARY KEY,
        device_id TEXT NOT NULL,
        action TEXT NOT NULL,
        actor TEXT NOT NULL,
        reason TEXT,
        key_fingerprint TEXT,
        previous_key_fingerprint TEXT,
        at TEXT NOT NULL
      );
      CREATE INDEX kiosk_events_device ON kiosk_events (device_id, at);
    `,
  },
  {
    version: 2,
    name: 'kiosk devices by key fingerprint',
    up: `CREATE INDEX kiosk_devices_key ON kiosk_devices (key_fingerprint);`,
  },
];
