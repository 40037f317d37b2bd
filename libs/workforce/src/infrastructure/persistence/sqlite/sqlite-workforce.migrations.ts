import { SqliteMigration } from '@app/persistence';

/**
 * Every claim of every worker (`phoneClaims`, as rows `claim, worker_id`) with its phone keyed
 * by the SQL expression `key` (of `w`, the worker row): its phone at each of its sites, and
 * among its thekedar's workers.
 */
function workerClaimsSql(key: string): string {
  return `
  SELECT 'site:' || s.value || '|' || ${key} AS claim, w.id AS worker_id
    FROM workers w, json_each(w.site_ids) s
  UNION ALL
  SELECT 'thekedar:' || json_extract(w.sponsor, '$.thekedarId') || '|' || ${key}, w.id
    FROM workers w WHERE json_extract(w.sponsor, '$.kind') = 'thekedar'`;
}

/**
 * The SQL function `(phone, workerId) → claim key` (`PhoneNumbers.claimKey`: E.164, or as typed
 * without spaces and dashes when the number does not parse) that SqliteWorkforceRepository
 * defines on its connection before it migrates: version 6 keys old workers' claims with it.
 */
export const PHONE_KEY_FUNCTION = 'workforce_phone_claim_key';

/**
 * The workers holding fewer claims than their phone has (one per site, one more with a
 * thekedar): the duplicates from before claims, or from before they were keyed in E.164, left
 * without the claims an older worker holds (an inactive worker holds none: not one of them).
 * For the boot's report (101 at most).
 */
export const UNCLAIMED_WORKERS_SQL = `
  SELECT w.id AS worker_id FROM workers w
   WHERE w.status = 'active'
     AND json_array_length(w.site_ids) + (json_extract(w.sponsor, '$.kind') = 'thekedar')
       > (SELECT count(*) FROM worker_phone_claims p WHERE p.worker_id = w.id)
   ORDER BY w.id LIMIT 101`;

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
        SELECT claim, worker_id FROM (${workerClaimsSql("replace(replace(w.phone, ' ', ''), '-', '')")})
        ORDER BY worker_id;
    `,
  },
  {
    version: 6,
    name: "workers' phone claims keyed in E.164 (duplicates it reveals: the oldest keeps, kept, reported)",
    // numbers were compared as typed (spaces and dashes aside): `+91 98765 43210` and
    // `09876543210` were two. Every claim again, keyed by the E.164 of the phone (stored as typed
    // by workers from before; the default region for a number without a country code), oldest
    // worker first: a later worker whose number turns out to be an older one's at a site or of
    // a thekedar keeps its record without that claim, as version 5 left duplicates. A number
    // that does not parse is claimed as before.
    up: `
      DELETE FROM worker_phone_claims;
      INSERT OR IGNORE INTO worker_phone_claims (claim, worker_id)
        SELECT claim, worker_id FROM (${workerClaimsSql(`${PHONE_KEY_FUNCTION}(w.phone, w.id)`)})
        ORDER BY worker_id;
    `,
  },
  {
    version: 7,
    name: "workers' status (a worker who left) and their audited status and site changes",
    up: `
      ALTER TABLE workers ADD COLUMN status TEXT NOT NULL DEFAULT 'active'
        CHECK (status IN ('active', 'inactive'));
      ALTER TABLE workers ADD COLUMN status_changed_at TEXT;
      CREATE TABLE worker_events (
        id TEXT PRIMARY KEY,
        worker_id TEXT NOT NULL,
        action TEXT NOT NULL CHECK (action IN ('deactivated', 'reactivated', 'sites_changed')),
        actor TEXT NOT NULL,
        reason TEXT,
        site_ids TEXT,
        at TEXT NOT NULL
      );
      CREATE INDEX worker_events_worker ON worker_events (worker_id);
    `,
  },
  {
    version: 8,
    name: 'thekedar sites (a thekedar from before: the sites of the workers it onboarded)',
    // a thekedar worked on every site before: one that onboarded workers keeps their sites (so
    // today's deployments work on), one that onboarded none gets none until an admin names
    // them (PATCH /api/v5/thekedars/:thekedarId). SqliteWorkforceRepository logs each grant
    // at the boot that runs this, for an admin to review (a site a thekedar reached through the
    // gap this closes is among them).
    up: `
      ALTER TABLE thekedars ADD COLUMN site_ids TEXT NOT NULL DEFAULT '[]';
      UPDATE thekedars SET site_ids = (
        SELECT json_group_array(site_id) FROM (
          SELECT DISTINCT s.value AS site_id
            FROM workers w, json_each(w.site_ids) s
           WHERE json_extract(w.sponsor, '$.kind') = 'thekedar'
             AND json_extract(w.sponsor, '$.thekedarId') = thekedars.id
             AND s.value IN (SELECT id FROM sites)
           ORDER BY site_id));
    `,
  },
  {
    version: 9,
    name: "a worker's sites before each site change (the first: those it was created with)",
    // a change recorded before this has none: the sites before it stay unknown (WorkerStanding)
    up: `ALTER TABLE worker_events ADD COLUMN previous_site_ids TEXT;`,
  },
  {
    version: 10,
    name: "a worker's phone changes (where its pay goes) as events, the numbers masked",
    // the action's CHECK names the actions: the table is made again with phone_changed and the
    // masked numbers, its rows copied in their order (listWorkerEvents reads by rowid)
    up: `
      CREATE TABLE worker_events_v10 (
        id TEXT PRIMARY KEY,
        worker_id TEXT NOT NULL,
        action TEXT NOT NULL
          CHECK (action IN ('deactivated', 'reactivated', 'sites_changed', 'phone_changed')),
        actor TEXT NOT NULL,
        reason TEXT,
        site_ids TEXT,
        previous_site_ids TEXT,
        phone TEXT,
        previous_phone TEXT,
        at TEXT NOT NULL
      );
      INSERT INTO worker_events_v10
        (id, worker_id, action, actor, reason, site_ids, previous_site_ids, at)
        SELECT id, worker_id, action, actor, reason, site_ids, previous_site_ids, at
          FROM worker_events ORDER BY rowid;
      DROP TABLE worker_events;
      ALTER TABLE worker_events_v10 RENAME TO worker_events;
      CREATE INDEX worker_events_worker ON worker_events (worker_id);
    `,
  },
  {
    version: 11,
    name: 'enrollment codes bound to their person and expiry by a tag (their hashes keyed)',
    up: `ALTER TABLE enrollment_codes ADD COLUMN tag TEXT;`,
  },
  {
    version: 12,
    name: "workers' records tagged (WorkerSeal), bound to their newest event",
    // tag: StoreMac over every field a decision reads and event_id, the id of the worker's newest
    // event then (NULL: none). NULL on rows from before: the server tags them once as legacy
    // (worker_seal.legacy_sealed_at is then set), and from then on an untagged row is one
    // written outside the server.
    up: `
      ALTER TABLE workers ADD COLUMN tag TEXT;
      ALTER TABLE workers ADD COLUMN event_id TEXT;
      CREATE TABLE worker_seal (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        legacy_sealed_at TEXT,
        legacy_sealed_count INTEGER
      );
      INSERT INTO worker_seal (id, legacy_sealed_at) VALUES (1, NULL);
    `,
  },
  {
    version: 13,
    name: "sites' and thekedars' records tagged (SiteSeal, ThekedarSeal)",
    // tag: StoreMac over every field a decision reads (a site's geofence and time zone, a
    // thekedar's sites). NULL on rows from before: the server tags them once as legacy
    // (site_seal / thekedar_seal.legacy_sealed_at is then set), and from then on an untagged row
    // is one written outside the server.
    up: `
      ALTER TABLE sites ADD COLUMN tag TEXT;
      ALTER TABLE thekedars ADD COLUMN tag TEXT;
      CREATE TABLE site_seal (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        legacy_sealed_at TEXT,
        legacy_sealed_count INTEGER
      );
      INSERT INTO site_seal (id, legacy_sealed_at) VALUES (1, NULL);
      CREATE TABLE thekedar_seal (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        legacy_sealed_at TEXT,
        legacy_sealed_count INTEGER
      );
      INSERT INTO thekedar_seal (id, legacy_sealed_at) VALUES (1, NULL);
    `,
  },
  {
    version: 14,
    name: "workers by phone (a number's claims checked against the tagged worker rows)",
    // worker_phone_claims is untagged: a claim row deleted in the database would free the
    // number, so a free claim is checked against the other workers with the number
    up: `CREATE INDEX workers_phone ON workers (phone);`,
  },
];
