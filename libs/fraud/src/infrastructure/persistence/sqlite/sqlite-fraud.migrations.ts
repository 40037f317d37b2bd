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
  {
    version: 6,
    name: "fraud events: a device's trust history without its refused syncs",
    // The trust score reads a device's newest events that weigh (WEIGHING_SQL): not dismissed,
    // not `device_blocked` (a sync refused while blocked weighs nothing). On the device index
    // every such refusal was a row to step over and a table read, and a blocked phone's app
    // retrying its queue leaves one per try: this index holds only the rows the score reads,
    // with the columns it reads, so the read never touches the table.
    up: `
      CREATE INDEX fraud_events_weighing ON fraud_events (device_id, at, id, type, review_decision)
        WHERE type <> 'device_blocked' AND review_decision IS NOT 'dismissed';
    `,
  },
  {
    version: 7,
    name: 'fraud events and reviews: the server tags (FraudSeal)',
    // tag: StoreMac over the row (the event's with its current review; a review's with its place
    // and the tag of the review before it). NULL on rows from before: the server tags them once
    // as legacy (fraud_seal.legacy_sealed_at is then set), and from then on an untagged row is
    // one written outside the server.
    up: `
      ALTER TABLE fraud_events ADD COLUMN tag TEXT;
      ALTER TABLE fraud_event_reviews ADD COLUMN tag TEXT;
      CREATE TABLE fraud_seal (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        legacy_sealed_at TEXT
      );
      INSERT INTO fraud_seal (id, legacy_sealed_at) VALUES (1, NULL);
    `,
  },
  {
    version: 8,
    name: 'fraud_seal: how many rows the legacy tagging tagged',
    // shown on /health beside legacy_sealed_at
    up: `ALTER TABLE fraud_seal ADD COLUMN legacy_sealed_count INTEGER;`,
  },
  {
    version: 9,
    name: "fraud events: a device's trust history read per type",
    // The trust score reads the newest rows of each weighing type (WEIGHING_SQL, one seek per
    // type): a flood of one type (an enrolled phone's garbage packets, each a malformed_packet,
    // or untagged rows a database writer adds) can no longer push another type's events out of
    // the read. Same rows as migration 6's index, type second.
    up: `
      DROP INDEX IF EXISTS fraud_events_weighing;
      CREATE INDEX fraud_events_weighing_type ON fraud_events (device_id, type, at, id, review_decision)
        WHERE type <> 'device_blocked' AND review_decision IS NOT 'dismissed';
    `,
  },
  {
    version: 10,
    name: "fraud events: a device's events of given packets",
    // A signed refusal is recorded once per (device, packet, type) (OfflineSyncService
    // refusedBefore): one seek per packet here, where it read up to 10,000 events of the packet
    // ids across every device (another device's rows could fill the read and defeat the dedupe).
    up: `
      CREATE INDEX fraud_events_device_packet ON fraud_events (device_id, packet_id, type)
        WHERE packet_id IS NOT NULL;
    `,
  },
  {
    version: 11,
    name: 'fraud events: the refused punch, and the listings of a worker by type and of a period',
    // punch_type and punch_at (the claimed time): the punch an authentic refusal names
    // (PUNCH_REFUSAL_TYPES), NULL on every other event. The partial index holds those events
    // only, by site and claimed time: the payroll's count of a period's refused punches is one
    // range seek of it. The listing filtered by worker and type (a worker's refused punches,
    // `?workerId=&type=timestamp_too_old&from=`) seeks both, and its time and keyset, in one index.
    up: `
      ALTER TABLE fraud_events ADD COLUMN punch_type TEXT;
      ALTER TABLE fraud_events ADD COLUMN punch_at TEXT;
      CREATE INDEX fraud_events_site_punch ON fraud_events (site_id, punch_at)
        WHERE punch_at IS NOT NULL;
      CREATE INDEX fraud_events_worker_type_at_id ON fraud_events (worker_id, type, at, id);
    `,
  },
];
