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
  {
    version: 3,
    name: "kiosks' trust tagged (KioskSeal)",
    // tag: StoreMac over (id, device_id, public key, fingerprint, status, updated_at). NULL on
    // rows from before: the server tags them once as legacy (kiosk_seal.legacy_sealed_at is then
    // set), and from then on an untagged row is one written outside the server.
    up: `
      ALTER TABLE kiosk_devices ADD COLUMN tag TEXT;
      CREATE TABLE kiosk_seal (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        legacy_sealed_at TEXT,
        legacy_sealed_count INTEGER
      );
      INSERT INTO kiosk_seal (id, legacy_sealed_at) VALUES (1, NULL);
    `,
  },
  {
    version: 4,
    name: "kiosk events tagged and numbered, a kiosk's state bound to its newest (KioskSeal)",
    // seq: 1, 2, 3 ... across all kiosks in write order (NULL on events from before, and on a
    // store without tags); kiosk_event_mark: the newest seq written, tagged. event_id/event_seq:
    // the event a row's state tag is bound to (NULL: a tag from before, read as legacy).
    up: `
      ALTER TABLE kiosk_devices ADD COLUMN event_id TEXT;
      ALTER TABLE kiosk_devices ADD COLUMN event_seq INTEGER;
      ALTER TABLE kiosk_events ADD COLUMN seq INTEGER;
      ALTER TABLE kiosk_events ADD COLUMN tag TEXT;
      CREATE UNIQUE INDEX kiosk_events_seq ON kiosk_events (seq);
      CREATE INDEX kiosk_events_device_seq ON kiosk_events (device_id, seq);
      CREATE TABLE kiosk_event_mark (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        seq INTEGER NOT NULL,
        tag TEXT NOT NULL
      );
    `,
  },
];
