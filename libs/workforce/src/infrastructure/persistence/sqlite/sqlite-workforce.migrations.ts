import { SqliteMigration } from '@app/persistence';

/** A phone as `phoneKey` compares it (spaces and dashes dropped), in SQL. */
const PHONE_KEY = "replace(replace(w.phone, ' ', ''), '-', '')";

/**
 * Every claim of every worker (`phoneClaims`, as rows `claim, worker_id`): its phone at each
 * of its sites, and among its thekedar's workers. Exported for the boot's duplicate report.
 */
export const WORKER_CLAIMS_SQL = `
  SELECT 'site:' || s.value || '|' || ${PHONE_KEY} AS claim, w.id AS worker_id
    FROM workers w, json_each(w.site_ids) s
  UNION ALL
  SELECT 'thekedar:' || json_extract(w.sponsor, '$.thekedarId') || '|' || ${PHONE_KEY}, w.id
    FROM workers w WHERE json_extract(w.sponsor, '$.kind') = 'thekedar'`;

export const WORKFORCE_SQLITE_MIGRATIONS: SqliteMigration[] = [
  {
    version: 1,
    name: 'sites, thekedars, workers, enrollment codes',
    up: `
      CREATE TABLE sites (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        lat REAL NOT NULL,
        lng REAL NOT NULL,
        radius_m REAL NOT NULL,
        created_at TEXT NOT NULL
      );
      CREATE TABLE thekedars (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        phone TEXT NOT NULL,
        trust_score INTEGER NOT NULL,
        created_at TEXT NOT NULL
      );
      CREATE TABLE workers (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        phone TEXT NOT NULL,
        site_ids TEXT NOT NULL,
        trust_score INTEGER NOT NULL,
        sponsor TEXT NOT NULL,
        trust_inherited_until TEXT,
        created_at TEXT NOT NULL
      );
      CREATE TABLE enrollment_codes (
        code_hash TEXT PRIMARY KEY,
        person_kind TEXT NOT NULL CHECK (person_kind IN ('worker', 'thekedar')),
        person_id TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        used_at TEXT,
        used_by_device_id TEXT
      );
    `,
  },
  {
    version: 2,
    name: 'site time zone (IANA name; NULL = the configured default)',
    up: `ALTER TABLE sites ADD COLUMN time_zone TEXT;`,
  },
  {
    version: 3,
    name: "workers by sponsoring thekedar (a thekedar's crew)",
    up: `CREATE INDEX workers_thekedar ON workers (json_extract(sponsor, '$.thekedarId'));`,
  },
  {
    version: 4,
    name: "enrollment codes by person (a new code voids the person's unused ones)",
    up: `CREATE INDEX enrollment_codes_person ON enrollment_codes (person_id);`,
  },
  {
    version: 5,
    name: "a worker's phone once per site and per thekedar (duplicates before it: kept, reported)",
    // the oldest worker of a claim holds it; a later one created before this version keeps its
    // record without that claim (SqliteWorkforceRepository reports them at boot)
    up: `
      CREATE TABLE worker_phone_claims (
        claim TEXT PRIMARY KEY,
        worker_id TEXT NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX worker_phone_claims_worker ON worker_phone_claims (worker_id);
      INSERT OR IGNORE INTO worker_phone_claims (claim, worker_id)
        SELECT claim, worker_id FROM (${WORKER_CLAIMS_SQL}) ORDER BY worker_id;
    `,
  },
];
