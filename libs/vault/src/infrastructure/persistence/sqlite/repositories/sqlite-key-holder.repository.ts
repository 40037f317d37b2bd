import { Injectable } from '@nestjs/common';
import type { Database } from 'better-sqlite3';
import { SqliteMigration, SqliteStoreHandle, SqliteWriteTurns } from '@app/persistence';
import { KeyHolder, KeyHolderRepository } from '../../key-holder.repository';

const KEY_HOLDER_SQLITE_MIGRATIONS: SqliteMigration[] = [
  {
    version: 1,
    name: 'vault key holders',
    up: `
      CREATE TABLE vault_key_holders (
        instance_id TEXT PRIMARY KEY,
        versions TEXT NOT NULL,
        seen_at TEXT NOT NULL
      );
    `,
  },
  {
    version: 2,
    name: 'vault key holders: the version each server seals under',
    up: `ALTER TABLE vault_key_holders ADD COLUMN active TEXT;`,
  },
];

interface Row {
  instance_id: string;
  versions: string;
  active: string | null;
  seen_at: string;
}

@Injectable()
export class SqliteKeyHolderRepository extends KeyHolderRepository {
  private readonly db: Database;
  private readonly turns: SqliteWriteTurns;

  constructor(store: SqliteStoreHandle) {
    super();
    store.migrate('vault.key_holders', KEY_HOLDER_SQLITE_MIGRATIONS);
    this.db = store.db;
    this.turns = store.writeTurns;
  }

  async record(holder: KeyHolder): Promise<void> {
    const upsert = this.db.prepare(
      `INSERT INTO vault_key_holders (instance_id, versions, active, seen_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (instance_id) DO UPDATE SET versions = excluded.versions, active = excluded.active,
         seen_at = excluded.seen_at`,
    );
    await this.turns.write(() =>
      upsert.run(
        holder.instanceId,
        JSON.stringify(holder.versions),
        holder.active ?? null,
        holder.seenAt.toISOString(),
      ),
    );
  }

  async listSeenSince(since: Date): Promise<KeyHolder[]> {
    const rows = this.db
      .prepare<[string], Row>(
        'SELECT * FROM vault_key_holders WHERE seen_at >= ? ORDER BY instance_id',
      )
      .all(since.toISOString());
    return rows.map((r) => ({
      instanceId: r.instance_id,
      versions: JSON.parse(r.versions) as string[],
      ...(r.active === null ? {} : { active: r.active }),
      seenAt: new Date(r.seen_at),
    }));
  }

  async remove(instanceId: string): Promise<void> {
    const remove = this.db.prepare('DELETE FROM vault_key_holders WHERE instance_id = ?');
    await this.turns.write(() => remove.run(instanceId));
  }
}
