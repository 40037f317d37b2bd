import { SqliteMigration } from '@app/persistence';

export const PROVISIONING_SQLITE_MIGRATIONS: SqliteMigration[] = [
  {
    version: 1,
    name: 'wifi challenges',
    up: `
      CREATE TABLE wifi_challenges (
        id TEXT PRIMARY KEY,
        device_id TEXT NOT NULL,
        challenge TEXT NOT NULL,
        answer_hash BLOB NOT NULL,
        wifi_ssid TEXT NOT NULL,
        wifi_password_sealed TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'used', 'locked')),
        wrong_attempts INTEGER NOT NULL DEFAULT 0,
        created_by TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        used_at TEXT
      );
      CREATE INDEX wifi_challenges_expires ON wifi_challenges (expires_at);
    `,
  },
  {
    version: 2,
    name: 'wifi challenges bound to the kiosk key they were encrypted to',
    up: `
      ALTER TABLE wifi_challenges ADD COLUMN key_fingerprint TEXT;
      ALTER TABLE wifi_challenges ADD COLUMN kiosk_changed_at TEXT;
    `,
  },
  {
    version: 3,
    name: 'wifi challenges tagged (the store MAC over what decides a redemption)',
    up: `ALTER TABLE wifi_challenges ADD COLUMN tag TEXT;`,
  },
];
