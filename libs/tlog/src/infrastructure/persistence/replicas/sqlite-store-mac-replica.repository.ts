import { Injectable } from '@nestjs/common';
import type { Database } from 'better-sqlite3';
import { SqliteMigration, SqliteStoreHandle, SqliteWriteTurns } from '@app/persistence';
import { StoreMacReplica, StoreMacReplicaRepository } from './store-mac-replica.repository';

const STORE_MAC_REPLICA_MIGRATIONS: SqliteMigration[] = [
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
];

interface Row {
  replica_id: string;
  host: string;
  kid: string;
  started_at: string;
  seen_at: string;
  heartbeat_ms: number;
}

@Injectable()
export class SqliteStoreMacReplicaRepository extends StoreMacReplicaRepository {
  private readonly db: Database;
  private readonly turns: SqliteWriteTurns;

  constructor(store: SqliteStoreHandle) {
    super();
    store.migrate('tlog.store_mac_replicas', STORE_MAC_REPLICA_MIGRATIONS);
    this.db = store.db;
    this.turns = store.writeTurns;
  }

  async record(r: StoreMacReplica): Promise<void> {
    const upsert = this.db.prepare(
      `INSERT INTO store_mac_replicas (replica_id, host, kid, started_at, seen_at, heartbeat_ms)
       VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (replica_id) DO UPDATE SET host = excluded.host, kid = excluded.kid,
         started_at = excluded.started_at, seen_at = excluded.seen_at,
         heartbeat_ms = excluded.heartbeat_ms`,
    );
    await this.turns.write(() =>
      upsert.run(
        r.replicaId,
        r.host,
        r.kid,
        r.startedAt.toISOString(),
        r.seenAt.toISOString(),
        r.heartbeatMs,
      ),
    );
  }

  async list(): Promise<StoreMacReplica[]> {
    const rows = this.db
      .prepare<[], Row>('SELECT * FROM store_mac_replicas ORDER BY replica_id')
      .all();
    return rows.map((r) => ({
      replicaId: r.replica_id,
      host: r.host,
      kid: r.kid,
      startedAt: new Date(r.started_at),
      seenAt: new Date(r.seen_at),
      heartbeatMs: r.heartbeat_ms,
    }));
  }

  async remove(replicaId: string): Promise<void> {
    const remove = this.db.prepare('DELETE FROM store_mac_replicas WHERE replica_id = ?');
    await this.turns.write(() => remove.run(replicaId));
  }

  async removeSeenBefore(before: Date): Promise<number> {
    const remove = this.db.prepare('DELETE FROM store_mac_replicas WHERE seen_at < ?');
    return this.turns.write(() => remove.run(before.toISOString()).changes);
  }
}
