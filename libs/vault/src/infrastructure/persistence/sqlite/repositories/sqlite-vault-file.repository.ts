import { Injectable } from '@nestjs/common';
import type { Database, Statement } from 'better-sqlite3';
import { LimitedStatement, SqliteStoreHandle, SqliteWriteTurns } from '@app/persistence';
import { ShredReason, VaultFile } from '../../../../domain/vault-file';
import { VaultFileRepository } from '../../vault-file.repository';
import { VaultFileRow, VaultFileSqliteMapper as Mapper } from '../mappers/vault-file.mapper';
import { VAULT_FILE_SQLITE_MIGRATIONS } from '../sqlite-vault.migrations';

@Injectable()
export class SqliteVaultFileRepository extends VaultFileRepository {
  private readonly db: Database;
  private readonly turns: SqliteWriteTurns;
  private readonly insert: Statement;
  private readonly byId: Statement<[string], VaultFileRow>;
  private readonly liveNotWrappedBy: LimitedStatement<[string], VaultFileRow>;
  private readonly liveIdBefore: LimitedStatement<[string], VaultFileRow>;

  constructor(store: SqliteStoreHandle) {
    super();
    store.migrate('vault.files', VAULT_FILE_SQLITE_MIGRATIONS);
    this.db = store.db;
    this.turns = store.writeTurns;
    this.insert = this.db.prepare(
      `INSERT INTO vault_files (id, content_type, size, sha256, wrapped_key, key_version, created_by, created_at, shredded_at, shred_reason)
       VALUES (@id, @content_type, @size, @sha256, @wrapped_key, @key_version, @created_by, @created_at, @shredded_at, @shred_reason)`,
    );
    this.byId = this.db.prepare('SELECT * FROM vault_files WHERE id = ?');
    this.liveNotWrappedBy = new LimitedStatement(this.db, VAULT_FILES_LIVE_NOT_WRAPPED_BY_SQL);
    this.liveIdBefore = new LimitedStatement(this.db, VAULT_FILES_LIVE_ID_BEFORE_SQL);
  }

  async create(file: VaultFile): Promise<void> {
    await this.turns.write(() => this.insert.run(Mapper.toPersistence(file)));
  }

  async findById(id: string): Promise<VaultFile | undefined> {
    const row = this.byId.get(id);
    return row ? Mapper.toDomain(row) : undefined;
  }

  async replaceWrappedKey(
    id: string,
    expectedWrappedKey: string,
    next: { wrappedKey: string; keyVersion: string },
  ): Promise<boolean> {
    const replace = this.db.prepare(
      'UPDATE vault_files SET wrapped_key = ?, key_version = ? WHERE id = ? AND wrapped_key = ?',
    );
    const { changes } = await this.turns.write(() =>
      replace.run(next.wrappedKey, next.keyVersion, id, expectedWrappedKey),
    );
    return changes === 1;
  }

  async shred(id: string, reason: ShredReason, at: Date): Promise<boolean> {
    const shred = this.db.prepare(
      `UPDATE vault_files SET wrapped_key = NULL, shredded_at = ?, shred_reason = ?
       WHERE id = ? AND wrapped_key IS NOT NULL`,
    );
    return (await this.turns.write(() => shred.run(at.toISOString(), reason, id))).changes === 1;
  }

  async listLiveIdBefore(idBound: string, limit: number): Promise<VaultFile[]> {
    return this.liveIdBefore.all([idBound], limit).map(Mapper.toDomain);
  }

  async listLiveNotWrappedBy(version: string, limit: number): Promise<VaultFile[]> {
    return this.liveNotWrappedBy.all([version], limit).map(Mapper.toDomain);
  }

  async countLiveByKeyVersion(): Promise<Record<string, number>> {
    const rows = this.db
      .prepare<[], { key_version: string; n: number }>(
        `SELECT key_version, COUNT(*) AS n FROM vault_files WHERE wrapped_key IS NOT NULL
         GROUP BY key_version ORDER BY key_version`,
      )
      .all();
    return Object.fromEntries(rows.map((row) => [row.key_version, row.n]));
  }
}

/** The shred and reseal jobs' pages, exported for the query-plan test. */
export const VAULT_FILES_LIVE_ID_BEFORE_SQL = `SELECT * FROM vault_files
  WHERE wrapped_key IS NOT NULL AND id < ? ORDER BY id LIMIT ?`;
export const VAULT_FILES_LIVE_NOT_WRAPPED_BY_SQL = `SELECT * FROM vault_files
  WHERE wrapped_key IS NOT NULL AND key_version <> ? ORDER BY id LIMIT ?`;
