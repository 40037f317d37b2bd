import { SqliteMigration } from '@app/persistence';

export const VAULT_FILE_SQLITE_MIGRATIONS: SqliteMigration[] = [
  {
    version: 1,
    name: 'vault files',
    up: `
      CREATE TABLE vault_files (
        id TEXT PRIMARY KEY,
        content_type TEXT NOT NULL,
        size INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        wrapped_key TEXT,
        key_version TEXT NOT NULL,
        created_by TEXT NOT NULL,
        created_at TEXT NOT NULL,
        shredded_at TEXT,
        shred_reason TEXT
      );
      CREATE INDEX vault_files_live_created ON vault_files (created_at) WHERE wrapped_key IS NOT NULL;
      CREATE INDEX vault_files_key_version ON vault_files (key_version);
    `,
  },
  {
    version: 2,
    // the retention sweep also pages live files by id (the id's stamp is the creation second
    // the blob authenticates; a created_at edited into the future keeps no file)
    name: 'vault files: live files by id',
    up: `CREATE INDEX vault_files_live_id ON vault_files (id) WHERE wrapped_key IS NOT NULL;`,
  },
];

export const VAULT_AUDIT_SQLITE_MIGRATIONS: SqliteMigration[] = [
  {
    version: 1,
    name: 'vault audit chain',
    up: `
      CREATE TABLE vault_audit (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        file_id TEXT NOT NULL,
        actor TEXT NOT NULL,
        role TEXT NOT NULL,
        ip TEXT NOT NULL,
        purpose TEXT NOT NULL,
        action TEXT NOT NULL,
        result TEXT NOT NULL,
        reason TEXT,
        at TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        record_hash TEXT NOT NULL
      );
      CREATE INDEX vault_audit_file ON vault_audit (file_id, seq);
    `,
  },
  {
    version: 2,
    name: 'vault audit filters: actor, action, result',
    up: `
      CREATE INDEX vault_audit_actor ON vault_audit (actor, seq);
      CREATE INDEX vault_audit_action ON vault_audit (action, seq);
      CREATE INDEX vault_audit_result ON vault_audit (result, seq);
    `,
  },
  {
    version: 3,
    // any combination of filters seeks: a filtered page is one seek per (action, result)
    // pair not fixed by the filters, merged by seq (vaultAuditListQuery); the indexes of
    // migration 2 sought one column and tested the others row by row
    name: 'vault audit filters: every combination bounded',
    up: `
      CREATE INDEX vault_audit_action_result ON vault_audit (action, result, seq);
      CREATE INDEX vault_audit_file_action_result ON vault_audit (file_id, action, result, seq);
      CREATE INDEX vault_audit_actor_action_result ON vault_audit (actor, action, result, seq);
      CREATE INDEX vault_audit_file_actor_action_result
        ON vault_audit (file_id, actor, action, result, seq);
      DROP INDEX vault_audit_file;
      DROP INDEX vault_audit_actor;
      DROP INDEX vault_audit_action;
      DROP INDEX vault_audit_result;
    `,
  },
  {
    version: 4,
    // The listing seeks one (action, result) pair at a time over the catalogue
    // (vaultAuditListQuery): a record of another action or result would be in no page of a
    // filtered listing. The store now refuses one. SQLite adds no constraint to a table, so it
    // is built again as in the ledger's migration 4: rows copied as stored, in seq order (seq
    // is the rowid: every recordHash and seal verifies as before), the indexes of migration 3
    // again. In the migration's transaction: a stored row outside the catalogue fails its
    // CHECK and leaves the old table as it was (the store does not open until it is dealt
    // with). The lists are written out: a catalogue that grows is a migration of its own.
    name: 'vault audit: action and result only from the catalogue (CHECK)',
    up: `
      CREATE TABLE vault_audit_catalogued (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        file_id TEXT NOT NULL,
        actor TEXT NOT NULL,
        role TEXT NOT NULL,
        ip TEXT NOT NULL,
        purpose TEXT NOT NULL,
        action TEXT NOT NULL CHECK (action IN ('store', 'read', 'delete', 'purge')),
        result TEXT NOT NULL CHECK (result IN ('allowed', 'denied', 'failed')),
        reason TEXT,
        at TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        record_hash TEXT NOT NULL
      );
      INSERT INTO vault_audit_catalogued
        (seq, id, file_id, actor, role, ip, purpose, action, result, reason, at, prev_hash, record_hash)
        SELECT seq, id, file_id, actor, role, ip, purpose, action, result, reason, at, prev_hash, record_hash
        FROM vault_audit ORDER BY seq;
      DROP TABLE vault_audit;
      ALTER TABLE vault_audit_catalogued RENAME TO vault_audit;
      CREATE INDEX vault_audit_action_result ON vault_audit (action, result, seq);
      CREATE INDEX vault_audit_file_action_result ON vault_audit (file_id, action, result, seq);
      CREATE INDEX vault_audit_actor_action_result ON vault_audit (actor, action, result, seq);
      CREATE INDEX vault_audit_file_actor_action_result
        ON vault_audit (file_id, actor, action, result, seq);
    `,
  },
  {
    version: 5,
    name: "the server's store MAC over each audit record's seq and recordHash, with its key id",
    // records stored before this version have none: sealed already when a checkpoint covers
    // them, else refused by the next seal until an operator seals them (`vault:seal-foreign`)
    up: `
      ALTER TABLE vault_audit ADD COLUMN mac TEXT;
      ALTER TABLE vault_audit ADD COLUMN mac_kid TEXT;
    `,
  },
];
