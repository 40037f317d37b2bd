import type { SqliteMigration } from '@app/persistence';

/** A packet's signed timestamp as integer epoch milliseconds (the expression the indexes use). */
export const PACKET_AT_MS = `CAST(round(unixepoch(json_extract(data, '$.timestamp'), 'subsec') * 1000) AS INTEGER)`;
export const PACKET_WORKER = `json_extract(data, '$.workerId')`;
export const PACKET_DEVICE = `json_extract(data, '$.deviceId')`;
/**
 * The device of an entry, as its `device_id` column keeps it: a packet's `data.deviceId`, and ''
 * for an entry no device made (one with a `kind`, e.g. a timesheet correction). The migration
 * that added the column computes it in SQL, appends give it (`ledgerDeviceOf`), and the readers
 * of texts check the column against it (a changed key copy reads record_hash_mismatch).
 */
export const ENTRY_DEVICE = `CASE WHEN json_type(data, '$.kind') IS NULL THEN coalesce(${PACKET_DEVICE}, '') ELSE '' END`;
/**
 * Whether a row's key columns (packet_id, device_id: what the unique key and the duplicate lookup
 * read, and no hash covers) are the ones its data names: a packetId and `ENTRY_DEVICE`. The one
 * comparison of a link's key copies with its data: the readers of texts (a row whose copies
 * disagree reads record_hash_mismatch), the append's duplicates (a call meeting one is refused
 * whole) and `backup --check`.
 */
export const KEY_COPIES_AGREE = `packet_id IS json_extract(data, '$.packetId') AND device_id IS ${ENTRY_DEVICE}`;

const APPEND_ONLY_TRIGGERS = `
      CREATE TRIGGER attendance_logs_append_only_update BEFORE UPDATE ON attendance_logs
        BEGIN SELECT RAISE(ABORT, 'attendance_logs is append-only'); END;
      CREATE TRIGGER attendance_logs_append_only_delete BEFORE DELETE ON attendance_logs
        BEGIN SELECT RAISE(ABORT, 'attendance_logs is append-only'); END;`;

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
      ${APPEND_ONLY_TRIGGERS}
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
  {
    version: 4,
    name: "an entry's identity is (packet_id, device_id): a packetId is unique per device",
    // UNIQUE(packet_id) was declared with the table, so the table is built again (SQLite drops
    // no constraint): the rows copied as they are (data and meta untouched, so every recordHash
    // and checkpoint still verifies), each with its device; the triggers and indexes again. In
    // the migration's transaction: a failure leaves the old table as it was
    up: `
      CREATE TABLE attendance_logs_by_device (
        site_id TEXT NOT NULL,
        seq INTEGER NOT NULL CHECK (seq >= 1),
        packet_id TEXT NOT NULL,
        device_id TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        record_hash TEXT NOT NULL,
        data TEXT NOT NULL,
        meta TEXT NOT NULL,
        PRIMARY KEY (site_id, seq),
        UNIQUE (packet_id, device_id)
      ) WITHOUT ROWID;
      INSERT INTO attendance_logs_by_device
        (site_id, seq, packet_id, device_id, prev_hash, record_hash, data, meta)
        SELECT site_id, seq, packet_id, ${ENTRY_DEVICE}, prev_hash, record_hash, data, meta
        FROM attendance_logs;
      DROP TABLE attendance_logs;
      ALTER TABLE attendance_logs_by_device RENAME TO attendance_logs;
      ${APPEND_ONLY_TRIGGERS}
      CREATE INDEX attendance_logs_worker_at ON attendance_logs (${PACKET_WORKER}, ${PACKET_AT_MS}, packet_id);
      CREATE INDEX attendance_logs_device_at ON attendance_logs (${PACKET_DEVICE}, ${PACKET_AT_MS});
    `,
  },
  {
    version: 5,
    name: "the unique key as (device_id, packet_id): a sync batch's keys sit together in it",
    // A batch is one device's packets: ordered by device first, its keys land in the few index
    // pages of that device, where packet-first keys (random UUIDs) touched a page each across
    // the whole index (every such page written to the WAL and checkpointed again, a cost that
    // grew with the ledger). SQLite drops no constraint, so the table is built again as in
    // migration 4, rows copied as stored (every recordHash and checkpoint verifies as before),
    // in primary-key order into a table with only its primary key; the key is then a unique
    // index built over the copied rows (sorted once, not inserted one random key at a time),
    // and a later change of it is a DROP INDEX, not another copy
    up: `
      CREATE TABLE attendance_logs_device_first (
        site_id TEXT NOT NULL,
        seq INTEGER NOT NULL CHECK (seq >= 1),
        packet_id TEXT NOT NULL,
        device_id TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        record_hash TEXT NOT NULL,
        data TEXT NOT NULL,
        meta TEXT NOT NULL,
        PRIMARY KEY (site_id, seq)
      ) WITHOUT ROWID;
      INSERT INTO attendance_logs_device_first
        (site_id, seq, packet_id, device_id, prev_hash, record_hash, data, meta)
        SELECT site_id, seq, packet_id, device_id, prev_hash, record_hash, data, meta
        FROM attendance_logs ORDER BY site_id, seq;
      DROP TABLE attendance_logs;
      ALTER TABLE attendance_logs_device_first RENAME TO attendance_logs;
      ${APPEND_ONLY_TRIGGERS}
      CREATE UNIQUE INDEX attendance_logs_device_packet ON attendance_logs (device_id, packet_id);
      CREATE INDEX attendance_logs_worker_at ON attendance_logs (${PACKET_WORKER}, ${PACKET_AT_MS}, packet_id);
      CREATE INDEX attendance_logs_device_at ON attendance_logs (${PACKET_DEVICE}, ${PACKET_AT_MS});
    `,
  },
  {
    version: 6,
    name: "the server's store MAC over each link's recordHash, with its key id (findings H1)",
    // links stored before this version have none: sealed already when a checkpoint covers them,
    // else refused by the next seal until an operator seals them (`ledger:seal-foreign`)
    up: `
      ALTER TABLE attendance_logs ADD COLUMN mac TEXT;
      ALTER TABLE attendance_logs ADD COLUMN mac_kid TEXT;
    `,
  },
];
