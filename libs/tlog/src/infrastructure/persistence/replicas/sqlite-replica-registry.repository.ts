import { Injectable } from '@nestjs/common';
import type { Database } from 'better-sqlite3';
import { SqliteMigration, SqliteStoreHandle, SqliteWriteTurns } from '@app/persistence';
import { Replica, ReplicaRegistryRepository } from './replica-registry.repository';

/**
 * The scope keeps its first name: version 1 is the store-MAC replicas' table of the release
 * before. Version 2 makes the one registry and moves into it, once, the rows of both tables it
 * replaces (the store-MAC replicas and the vault's key holders, scope `vault.key_holders`),
 * then drops them.
 */
const REPLICA_REGISTRY_MIGRATIONS: SqliteMigration[] = [
  {
    version: 1,
    name: 'store-MAC key of each replica',
    up: `
      CREATE TABLE store_mac_replicas (
        replica_id TEXT PRIMARY KEY,
        host TEXT NOT NULL,
        kid TEXT NOT NULL,
        started_at TEXT NOT NULL,
        seen_at TEXT NOT NULL,
        heartbeat_ms INTEGER NOT NULL
      );
    `,
  },
  {
    version: 2,
    name: 'one replica registry: store-MAC replicas and vault key holders moved in',
    up: `
      CREATE TABLE replicas (
        replica_id TEXT PRIMARY KEY,
        host TEXT NOT NULL,
        started_at TEXT NOT NULL,
        seen_at TEXT NOT NULL,
        heartbeat_ms INTEGER NOT NULL,
        store_mac_kid TEXT,
        vault_key_versions TEXT,
        vault_active_key TEXT
      );
      INSERT INTO replicas (replica_id, host, started_at, seen_at, heartbeat_ms, store_mac_kid)
        SELECT replica_id, host, started_at, seen_at, heartbeat_ms, kid FROM store_mac_replicas;
      DROP TABLE store_mac_replicas;
      CREATE TABLE IF NOT EXISTS vault_key_holders (
        instance_id TEXT PRIMARY KEY,
        versions TEXT NOT NULL,
        seen_at TEXT NOT NULL,
        active TEXT
      );
      INSERT OR IGNORE INTO replicas
        (replica_id, host, started_at, seen_at, heartbeat_ms, vault_key_versions, vault_active_key)
        SELECT instance_id,
          CASE WHEN instr(instance_id, ':') > 0
            THEN substr(instance_id, 1, instr(instance_id, ':') - 1) ELSE instance_id END,
          seen_at, seen_at, 60000, versions, active
        FROM vault_key_holders;
      DROP TABLE vault_key_holders;
    `,
  },
];

interface Row {
  replica_id: string;
  host: string;
  started_at: string;
  seen_at: string;
  heartbeat_ms: number;
  store_mac_kid: string | null;
  vault_key_versions: string | null;
  vault_active_key: string | null;
}

@Injectable()
export class SqliteReplicaRegistryRepository extends ReplicaRegistryRepository {
  private readonly db: Database;
  private readonly turns: SqliteWriteTurns;

  constructor(store: SqliteStoreHandle) {
    super();
    store.migrate('tlog.store_mac_replicas', REPLICA_REGISTRY_MIGRATIONS);
    this.db = store.db;
    this.turns = store.writeTurns;
  }

  async record(r: Replica): Promise<void> {
    const upsert = this.db.prepare(
      `INSERT INTO replicas (replica_id, host, started_at, seen_at, heartbeat_ms, store_mac_kid,
         vault_key_versions, vault_active_key)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (replica_id) DO UPDATE SET host = excluded.host,
         started_at = excluded.started_at, seen_at = excluded.seen_at,
         heartbeat_ms = excluded.heartbeat_ms, store_mac_kid = excluded.store_mac_kid,
         vault_key_versions = excluded.vault_key_versions,
         vault_active_key = excluded.vault_active_key`,
    );
    const { storeMacKid, vaultKeyVersions, vaultActiveKey } = r.holds;
    await this.turns.write(() =>
      upsert.run(
        r.replicaId,
        r.host,
        r.startedAt.toISOString(),
        r.seenAt.toISOString(),
        r.heartbeatMs,
        storeMacKid ?? null,
        vaultKeyVersions ? JSON.stringify(vaultKeyVersions) : null,
        vaultActiveKey ?? null,
      ),
    );
  }

  async list(): Promise<Replica[]> {
    const rows = this.db.prepare<[], Row>('SELECT * FROM replicas ORDER BY replica_id').all();
    return rows.map((r) => ({
      replicaId: r.replica_id,
      host: r.host,
      holds: {
        ...(r.store_mac_kid === null ? {} : { storeMacKid: r.store_mac_kid }),
        ...(r.vault_key_versions === null
          ? {}
          : { vaultKeyVersions: JSON.parse(r.vault_key_versions) as string[] }),
        ...(r.vault_active_key === null ? {} : { vaultActiveKey: r.vault_active_key }),
      },
      startedAt: new Date(r.started_at),
      seenAt: new Date(r.seen_at),
      heartbeatMs: r.heartbeat_ms,
    }));
  }

  async remove(replicaId: string): Promise<void> {
    const remove = this.db.prepare('DELETE FROM replicas WHERE replica_id = ?');
    await this.turns.write(() => remove.run(replicaId));
  }

  async removeSeenBefore(before: Date): Promise<number> {
    const remove = this.db.prepare('DELETE FROM replicas WHERE seen_at < ?');
    return this.turns.write(() => remove.run(before.toISOString()).changes);
  }
}
