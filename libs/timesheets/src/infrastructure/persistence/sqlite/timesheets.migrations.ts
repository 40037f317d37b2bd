import { SqliteMigration } from '@app/persistence';

export const TIMESHEETS_SQLITE_MIGRATIONS: SqliteMigration[] = [
  {
    version: 1,
    name: 'timesheet read model: entries and worker-days',
    up: `
      CREATE TABLE timesheet_entries (
        site_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        worker_id TEXT NOT NULL,
        packet_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        punch_type TEXT,
        action TEXT,
        target_seq INTEGER,
        at INTEGER,
        effective_at INTEGER,
        voided INTEGER NOT NULL,
        corrected_by TEXT NOT NULL,
        low_trust INTEGER NOT NULL,
        PRIMARY KEY (site_id, seq)
      ) WITHOUT ROWID;
      CREATE INDEX timesheet_entries_worker_at ON timesheet_entries (site_id, worker_id, effective_at)
        WHERE punch_type IS NOT NULL;
      CREATE INDEX timesheet_entries_target ON timesheet_entries (site_id, target_seq)
        WHERE target_seq IS NOT NULL;
      CREATE TABLE timesheet_days (
        site_id TEXT NOT NULL,
        worker_id TEXT NOT NULL,
        day TEXT NOT NULL,
        worked_seconds INTEGER NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (site_id, worker_id, day)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 2,
    name: 'timesheet read model: days pending recompute',
    // one row per worker whose stored entries reach days not yet recomputed: written in the
    // transaction that stores the entries, deleted in the one that stores their days
    up: `
      CREATE TABLE timesheet_pending_days (
        site_id TEXT NOT NULL,
        worker_id TEXT NOT NULL,
        min_at INTEGER NOT NULL,
        max_at INTEGER NOT NULL,
        PRIMARY KEY (site_id, worker_id)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 3,
    name: 'timesheet read model: the keys of worker-days, without their bodies',
    // the table's key again, apart: a row of timesheet_days holds its body, KBs for a day of ~40
    // punches, so its pages (leaves and interior alike) hold a few rows each; these hold ~100.
    // A page of days seeks its workers, and each one's first day in the period, here, and reads
    // the table only from a day it returns (the statements name it: TIMESHEET_DAY_SQL)
    up: `
      CREATE INDEX IF NOT EXISTS timesheet_days_keys ON timesheet_days (site_id, worker_id, day);
    `,
  },
  {
    version: 4,
    name: 'timesheet read model: rebuild marks (a lease per site)',
    // one row per site ever rebuilt, never deleted: its generation grows with each rebuild,
    // expires_at (epoch ms) is 0 once the rebuild ended
    up: `
      CREATE TABLE timesheet_rebuilds (
        site_id TEXT NOT NULL PRIMARY KEY,
        generation INTEGER NOT NULL,
        owner TEXT NOT NULL,
        expires_at INTEGER NOT NULL
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 5,
    name: 'timesheet read model: the check-out of an added shift',
    // an add_shift correction is one entry holding a whole shift: its check-in is `at` and
    // `effective_at`, its check-out this column (null on every other entry)
    up: `
      ALTER TABLE timesheet_entries ADD COLUMN out_at INTEGER;
    `,
  },
  {
    version: 6,
    name: "timesheet read model: a worker's punches by time across sites",
    // a recompute of a worker's days at one site reads the worker's punches at the others
    // (overlaps_other_site): one seek of this index (the table's key, site_id and seq, is in
    // every index of a WITHOUT ROWID table)
    up: `
      CREATE INDEX timesheet_entries_worker_time ON timesheet_entries (worker_id, effective_at)
        WHERE punch_type IS NOT NULL;
    `,
  },
  {
    version: 7,
    name: "timesheet read model: the server's tags over its rows, and the key they are under",
    // tag: StoreMac over the row's content (TimesheetSeal), NULL on rows from before (they are
    // cleared at the first start: timesheet_seal holds no kid yet). timesheet_seal: one row, the
    // id of the signing key the rows are tagged under; a start under another key clears the
    // read model, which each site's next read re-reads from the ledger
    up: `
      ALTER TABLE timesheet_entries ADD COLUMN tag TEXT;
      ALTER TABLE timesheet_days ADD COLUMN tag TEXT;
      CREATE TABLE timesheet_seal (
        id INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
        kid TEXT NOT NULL
      );
    `,
  },
  {
    version: 8,
    name: 'timesheet read model: every store-MAC key its rows have been tagged under',
    // kids: a JSON array of the ids of every key rows were tagged under since the last reset
    // (the key at the reset, and each key a start has written under since): a start that no
    // longer holds one of them resets the read model. A store from before holds its one kid
    up: `
      ALTER TABLE timesheet_seal ADD COLUMN kids TEXT;
      UPDATE timesheet_seal SET kids = json_array(kid);
    `,
  },
  {
    version: 9,
    name: "timesheet read model: a worker's punches at a site read on the cross-site index",
    // timesheet_entries_worker_at (site_id, worker_id, effective_at) held the same rows as
    // timesheet_entries_worker_time (migration 6), in an order the latter gives too once the
    // site is a filter (TIMESHEET_PUNCHES_SQL): every entry stored (500 a sync batch) wrote both
    // trees. A read of a worker's punches at a site now seeks the worker's punches in the
    // range at every site, which a recompute reads anyway (TIMESHEET_OTHER_SITE_PUNCHES_SQL)
    up: `
      DROP INDEX IF EXISTS timesheet_entries_worker_at;
    `,
  },
];
