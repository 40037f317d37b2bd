import { SqliteMigration } from '@app/persistence';

export const WORKER_DEVICE_SQLITE_MIGRATIONS: SqliteMigration[] = [
  {
    version: 1,
    name: 'worker devices and events',
    up: `
      CREATE TABLE worker_devices (
        id TEXT PRIMARY KEY,
        device_id TEXT NOT NULL UNIQUE,
        user_kind TEXT NOT NULL,
        user_id TEXT NOT NULL,
        site_ids TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        sealed_secret TEXT NOT NULL,
        trust_score INTEGER NOT NULL CHECK (trust_score BETWEEN 0 AND 100),
        is_blocked INTEGER NOT NULL DEFAULT 0,
        last_seen TEXT,
        created_at TEXT NOT NULL
      );
      CREATE INDEX worker_devices_user ON worker_devices (user_id);
      CREATE TABLE worker_device_events (
        id TEXT PRIMARY KEY,
        device_id TEXT NOT NULL,
        action TEXT NOT NULL,
        actor TEXT NOT NULL,
        reason TEXT,
        at TEXT NOT NULL
      );
      CREATE INDEX worker_device_events_device ON worker_device_events (device_id, at);
    `,
  },
  {
    version: 2,
    name: 'last ip and sim hash lookup (trust score, shared-device rule)',
    up: `
      ALTER TABLE worker_devices ADD COLUMN last_ip TEXT;
      CREATE INDEX worker_devices_sim_hash ON worker_devices (json_extract(fingerprint, '$.simHash'));
    `,
  },
  {
    version: 3,
    name: "a worker's phones in deviceId order (GET /api/v5/devices?workerId=)",
    // the new index starts with user_id: it serves every lookup the old one did
    up: `
      CREATE INDEX worker_devices_user_device ON worker_devices (user_id, device_id);
      DROP INDEX worker_devices_user;
    `,
  },
  {
    version: 4,
    name: "a device's latest event of an action (the admin unblock the trust floor starts from)",
    // (device_id, at) stays: it orders a device's whole trail (GET /api/v5/devices/:id)
    up: `
      CREATE INDEX worker_device_events_device_action ON worker_device_events (device_id, action, at);
    `,
  },
  {
    version: 5,
    name: 'the offline tokens issued (a sync accepts only a token on record)',
    // one row says since when tokens are recorded: an unrecorded token issued before is the
    // transition's (IssuedTokens)
    up: `
      CREATE TABLE offline_tokens (
        device_id TEXT NOT NULL,
        jti TEXT NOT NULL,
        kid TEXT NOT NULL,
        iat TEXT NOT NULL,
        exp TEXT NOT NULL,
        digest TEXT NOT NULL,
        keep_until TEXT NOT NULL,
        PRIMARY KEY (device_id, jti)
      ) WITHOUT ROWID;
      CREATE INDEX offline_tokens_keep_until ON offline_tokens (keep_until);
      CREATE TABLE offline_token_recording (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        since TEXT NOT NULL
      );
    `,
  },
  {
    version: 6,
    name: 'the transition reopened after a restore (npm run tokens:reopen)',
    up: `
      CREATE TABLE offline_token_reopening (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        since TEXT NOT NULL,
        opened_at TEXT NOT NULL,
        until TEXT NOT NULL,
        kid TEXT NOT NULL
      );
    `,
  },
  {
    version: 7,
    name: 'which token records a sync presented (the bound on records per device keeps them longest)',
    // the records from before cannot tell: counted as presented (the last to go)
    up: `
      ALTER TABLE offline_tokens ADD COLUMN synced INTEGER NOT NULL DEFAULT 0;
      UPDATE offline_tokens SET synced = 1;
    `,
  },
  {
    version: 8,
    name: 'worker devices: the server tags of the block state and the events (WorkerDeviceSeal)',
    // block_tag: StoreMac over (device_id, is_blocked, block_event_id: the event that set the
    // state); events.tag over the event. NULL on rows from before: the server tags them once as
    // legacy (worker_device_seal.legacy_sealed_at is then set), and from then on an untagged row
    // is one written outside the server.
    up: `
      ALTER TABLE worker_devices ADD COLUMN block_tag TEXT;
      ALTER TABLE worker_devices ADD COLUMN block_event_id TEXT;
      ALTER TABLE worker_device_events ADD COLUMN tag TEXT;
      CREATE TABLE worker_device_seal (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        legacy_sealed_at TEXT,
        legacy_sealed_count INTEGER
      );
      INSERT INTO worker_device_seal (id, legacy_sealed_at) VALUES (1, NULL);
    `,
  },
  {
    version: 9,
    name: "a device's newest event as written (a tagged block state must be the one it set)",
    // rowid order is write order (a state and its event are one transaction); the (device, at)
    // index orders by a replica's clock, which another replica's may lag
    up: `
      CREATE INDEX worker_device_events_device_written ON worker_device_events (device_id);
    `,
  },
  {
    version: 10,
    name: 'worker devices: the state tags of the form v1 retired (WorkerDeviceSeal.retireV1)',
    // set once every state tagged in the form v1 (before the owner fields were covered) is
    // re-tagged in the form v2 as legacy; from then on a v1 tag reads as tampered
    up: `
      ALTER TABLE worker_device_seal ADD COLUMN v1_retired_at TEXT;
      ALTER TABLE worker_device_seal ADD COLUMN v1_retired_count INTEGER;
    `,
  },
];
