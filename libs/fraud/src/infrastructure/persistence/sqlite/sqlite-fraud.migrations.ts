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
];
