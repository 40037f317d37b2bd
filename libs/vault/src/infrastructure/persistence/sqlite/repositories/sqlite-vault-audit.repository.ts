import { Injectable } from '@nestjs/common';
import type { Database } from 'better-sqlite3';
import { LimitedStatements, SqliteStoreHandle, SqliteWriteTurns } from '@app/persistence';
import { appendImmediate } from '@app/tlog';
import { ChainHead, VaultAuditRecord } from '../../../../domain/vault-audit-record';
import { VaultAuditCriteria, VaultAuditRepository } from '../../vault-audit.repository';
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
  private readonly pages: LimitedStatements<VaultAuditRow>;

  constructor(store: SqliteStoreHandle) {
    super();
    store.migrate('vault.audit', VAULT_AUDIT_SQLITE_MIGRATIONS);
    this.db = store.db;
    this.turns = store.writeTurns;
    this.pages = new LimitedStatements(this.db);
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

  async listInOrder(criteria: VaultAuditCriteria): Promise<VaultAuditRecord[]> {
    const { sql, params } = vaultAuditListQuery(criteria);
    return this.pages.all(sql, params, criteria.limit).map(Mapper.toDomain);
  }
}

/**
 * A page of the access log, exported for the query-plan test: a keyset on seq, through the
 * primary key or an index on (filtered column, seq), so every page seeks and none sorts.
 */
export function vaultAuditListQuery(criteria: VaultAuditCriteria): {
  sql: string;
  params: Array<string | number>;
} {
  const where = ['seq > ?'];
  const params: Array<string | number> = [criteria.afterSeq ?? 0];
  const equal: Array<[string, string | undefined]> = [
    ['file_id', criteria.fileId],
    ['actor', criteria.actor],
    ['action', criteria.action],
    ['result', criteria.result],
  ];
  for (const [column, value] of equal) {
    if (value === undefined) continue;
    where.push(`${column} = ?`);
    params.push(value);
  }
  return {
    sql: `SELECT * FROM vault_audit WHERE ${where.join(' AND ')} ORDER BY seq LIMIT ?`,
    params,
  };
}
