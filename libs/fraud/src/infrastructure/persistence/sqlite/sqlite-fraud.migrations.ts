import { SqliteMigration } from '@app/persistence';

export const FRAUD_SQLITE_MIGRATIONS: SqliteMigration[] = [
  {
    version: 1,
    name: 'fraud events',
    up: `
      CREATE TABLE fraud_events (
        id TEXT PRIMARY KEY,
        type TEXT NOT NULL,
        device_id TEXT,
        worker_id TEXT,
        site_id TEXT,
        packet_id TEXT,
        detail TEXT NOT NULL,
        at TEXT NOT NULL
      );
      CREATE INDEX fraud_events_at ON fraud_events (at);
      CREATE INDEX fraud_events_device ON fraud_events (device_id, at);
      CREATE INDEX fraud_events_worker ON fraud_events (worker_id, at);
      CREATE INDEX fraud_events_site ON fraud_events (site_id, at);
    `,
  },
  {
    version: 2,
    name: 'fraud events: index matching the listing sort (at DESC, id DESC)',
    up: `
      DROP INDEX fraud_events_at;
      CREATE INDEX fraud_events_at_id ON fraud_events (at, id);
    `,
  },
  {
    version: 3,
    name: 'fraud events by packet (timesheet flags)',
    up: `CREATE INDEX fraud_events_packet ON fraud_events (packet_id) WHERE packet_id IS NOT NULL;`,
  },
  {
    version: 4,
    name: 'listing indexes: every filter seeks (column, at, id), the keyset included',
    up: `
      DROP INDEX fraud_events_device;
      DROP INDEX fraud_events_worker;
      DROP INDEX fraud_events_site;
      CREATE INDEX fraud_events_type_at_id ON fraud_events (type, at, id);
      CREATE INDEX fraud_events_device_at_id ON fraud_events (device_id, at, id);
      CREATE INDEX fraud_events_worker_at_id ON fraud_events (worker_id, at, id);
      CREATE INDEX fraud_events_site_at_id ON fraud_events (site_id, at, id);
    `,
  },
  {
    version: 5,
    name: 'fraud event reviews: the history, and the current review on the event',
    // Each review is a row of fraud_event_reviews (never updated: who decided what, when and
    // why). The event's review_* columns copy its latest review, written in the same
    // transaction, so the listing filters on it through an index, and the trust score leaves
    // dismissed events out, without a join or a second query.
    up: `
      CREATE TABLE fraud_event_reviews (
        id TEXT PRIMARY KEY,
        event_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        decision TEXT NOT NULL,
        reason TEXT NOT NULL,
        actor TEXT NOT NULL,
        at TEXT NOT NULL,
        UNIQUE (event_id, seq)
      );
      ALTER TABLE fraud_events ADD COLUMN review_id TEXT;
      ALTER TABLE fraud_events ADD COLUMN review_decision TEXT;
      ALTER TABLE fraud_events ADD COLUMN review_reason TEXT;
      ALTER TABLE fraud_events ADD COLUMN review_by TEXT;
      ALTER TABLE fraud_events ADD COLUMN review_at TEXT;
      CREATE INDEX fraud_events_review_at_id ON fraud_events (review_decision, at, id);
    `,
  },
];
