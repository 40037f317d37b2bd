import { Injectable } from '@nestjs/common';
import type { Database } from 'better-sqlite3';
import { LimitedStatement, SqliteStoreHandle, SqliteWriteTurns } from '@app/persistence';
import { appendImmediate } from '@app/tlog';
import { ChainHead, VaultAuditRecord } from '../../../../domain/vault-audit-record';
import { VaultAuditRepository } from '../../vault-audit.repository';
import { VaultAuditRow, VaultAuditSqliteMapper as Mapper } from '../mappers/vault-audit.mapper';
import { VAULT_AUDIT_SQLITE_MIGRATIONS } from '../sqlite-vault.migrations';

/**
 * The audit chain on SQLite: reading the head and inserting the next record happen in one
 * BEGIN IMMEDIATE transaction, so two processes on one file cannot fork the chain.
 */
@Injectable()
export class SqliteVaultAuditRepository extends VaultAuditRepository {
  private readonly db: Database;
  private readonly turns: SqliteWriteTurns;
  private readonly listPage: LimitedStatement<[number], VaultAuditRow>;
  private readonly fileListPage: LimitedStatement<[string, number], VaultAuditRow>;

  constructor(store: SqliteStoreHandle) {
    super();
    store.migrate('vault.audit', VAULT_AUDIT_SQLITE_MIGRATIONS);
    this.db = store.db;
    this.turns = store.writeTurns;
    this.listPage = new LimitedStatement(this.db, VAULT_AUDIT_LIST_SQL);
    this.fileListPage = new LimitedStatement(this.db, VAULT_AUDIT_FILE_LIST_SQL);
  }

  async appendToChain(
    link: (head: ChainHead | undefined) => VaultAuditRecord,
  ): Promise<VaultAuditRecord> {
    // statements are prepared per call: a schema change on the file must surface as an error here
    return this.turns.write(() =>
      appendImmediate(this.db, () => {
        const head = this.db
          .prepare<[], { seq: number; record_hash: string }>(
            'SELECT seq, record_hash FROM vault_audit ORDER BY seq DESC LIMIT 1',
          )
          .get();
        const record = link(head ? { seq: head.seq, hash: head.record_hash } : undefined);
        this.db
          .prepare(
            `INSERT INTO vault_audit (seq, id, file_id, actor, role, ip, purpose, action, result, reason, at, prev_hash, record_hash)
           VALUES (@seq, @id, @file_id, @actor, @role, @ip, @purpose, @action, @result, @reason, @at, @prev_hash, @record_hash)`,
          )
          .run(Mapper.toPersistence(record));
        return record;
      }),
    );
  }

  async readRecordHashes(fromSeq: number, toSeq: number): Promise<string[]> {
    return this.db
      .prepare<[number, number], { record_hash: string }>(
        'SELECT record_hash FROM vault_audit WHERE seq BETWEEN ? AND ? ORDER BY seq',
      )
      .all(fromSeq, toSeq)
      .map((r) => r.record_hash);
  }

  async listInOrder(options: {
    fileId?: string;
    afterSeq?: number;
    limit: number;
  }): Promise<VaultAuditRecord[]> {
    const after = options.afterSeq ?? 0;
    const rows =
      options.fileId === undefined
        ? this.listPage.all([after], options.limit)
        : this.fileListPage.all([options.fileId, after], options.limit);
    return rows.map(Mapper.toDomain);
  }
}

/** The listings, exported for the query-plan test: keysets on seq and on (file_id, seq). */
export const VAULT_AUDIT_LIST_SQL = 'SELECT * FROM vault_audit WHERE seq > ? ORDER BY seq LIMIT ?';
export const VAULT_AUDIT_FILE_LIST_SQL =
  'SELECT * FROM vault_audit WHERE file_id = ? AND seq > ? ORDER BY seq LIMIT ?';
