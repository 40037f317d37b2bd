import { SqliteMigration } from '@app/persistence';

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
];
