import { Injectable } from '@nestjs/common';
import type { Database, Statement } from 'better-sqlite3';
import { LimitedStatements, SqliteStoreHandle, SqliteWriteTurns } from '@app/persistence';
import { appendImmediate } from '@app/tlog';
import {
  ChainHead,
  TaggedVaultAuditRecord,
  VAULT_ACTIONS,
  VAULT_RESULTS,
  VaultAuditRecord,
  VaultAuditTag,
} from '../../../../domain/vault-audit-record';
import { VaultAuditCriteria, VaultAuditRepository } from '../../vault-audit.repository';
import {
  TaggedVaultAuditRow,
  VaultAuditRow,
  VaultAuditSqliteMapper as Mapper,
} from '../mappers/vault-audit.mapper';
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
  /** `appendToChain`'s statements, prepared at its first call. */
  private appendStatements?: {
    head: Statement<[], { seq: number; record_hash: string }>;
    insert: Statement;
  };

  constructor(store: SqliteStoreHandle) {
    super();
    store.migrate('vault.audit', VAULT_AUDIT_SQLITE_MIGRATIONS);
    this.db = store.db;
    this.turns = store.writeTurns;
    this.pages = new LimitedStatements(this.db);
  }

  async appendToChain(
    link: (head: ChainHead | undefined) => VaultAuditRecord,
    tag?: (record: VaultAuditRecord) => VaultAuditTag,
  ): Promise<VaultAuditRecord> {
    // statements prepared once (at the first append): each access's record prepared both, ~3%
    // of a small read's CPU. A schema change on the file still surfaces as an error here: SQLite
    // prepares a kept statement again when the schema changed, and fails as a new one would
    // (a dropped table: "no such table", audit_unavailable)
    return this.turns.write(() =>
      appendImmediate(this.db, () => {
        this.appendStatements ??= {
          head: this.db.prepare<[], { seq: number; record_hash: string }>(
            'SELECT seq, record_hash FROM vault_audit ORDER BY seq DESC LIMIT 1',
          ),
          insert: this.db.prepare(
            `INSERT INTO vault_audit (seq, id, file_id, actor, role, ip, purpose, action, result, reason, at, prev_hash, record_hash, mac, mac_kid)
           VALUES (@seq, @id, @file_id, @actor, @role, @ip, @purpose, @action, @result, @reason, @at, @prev_hash, @record_hash, @mac, @mac_kid)`,
          ),
        };
        const head = this.appendStatements.head.get();
        const record = link(head ? { seq: head.seq, hash: head.record_hash } : undefined);
        const tagged = tag?.(record);
        this.appendStatements.insert.run({
          ...Mapper.toPersistence(record),
          mac: tagged?.mac ?? null,
          mac_kid: tagged?.kid ?? null,
        });
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

  async readTagged(fromSeq: number, toSeq: number): Promise<TaggedVaultAuditRecord[]> {
    return this.db
      .prepare<[number, number], TaggedVaultAuditRow>(
        'SELECT * FROM vault_audit WHERE seq BETWEEN ? AND ? ORDER BY seq',
      )
      .all(fromSeq, toSeq)
      .map((row) => ({ record: Mapper.toDomain(row), mac: row.mac, kid: row.mac_kid }));
  }

  async headSeq(): Promise<number> {
    return (
      this.db
        .prepare<[], { seq: number }>('SELECT seq FROM vault_audit ORDER BY seq DESC LIMIT 1')
        .get()?.seq ?? 0
    );
  }

  async listInOrder(criteria: VaultAuditCriteria): Promise<VaultAuditRecord[]> {
    const { sql, params } = vaultAuditListQuery(criteria);
    return this.pages.all(sql, params, criteria.limit).map(Mapper.toDomain);
  }
}

/**
 * A page of the access log, exported for the query-plan test: a keyset on seq, so every page
 * seeks and none sorts. Unfiltered, the primary key. Filtered, an index on (file_id?, actor?,
 * action, result, seq) (migration 3): every filter given is an equality on its prefix, and
 * an action or result not asked for is each of its few values in turn (4 actions × 3 results
 * at most), one seek per combination, merged by seq (`MERGE (UNION ALL)`, each arm read only
 * as far as the page needs). So any combination of filters costs at most 12 seeks and a page
 * of rows, however rare the combination is inside common values; with one index per column,
 * two filters sought one and tested the other on every row of its range.
 */
export function vaultAuditListQuery(criteria: VaultAuditCriteria): {
  sql: string;
  params: Array<string | number>;
} {
  const after = criteria.afterSeq ?? 0;
  const prefix: Array<[string, string]> = [];
  if (criteria.fileId !== undefined) prefix.push(['file_id', criteria.fileId]);
  if (criteria.actor !== undefined) prefix.push(['actor', criteria.actor]);
  if (prefix.length === 0 && criteria.action === undefined && criteria.result === undefined) {
    return { sql: 'SELECT * FROM vault_audit WHERE seq > ? ORDER BY seq LIMIT ?', params: [after] };
  }
  const where = [
    ...prefix.map(([column]) => `${column} = ?`),
    'action = ?',
    'result = ?',
    'seq > ?',
  ];
  const arm = `SELECT * FROM vault_audit WHERE ${where.join(' AND ')}`;
  const arms: string[] = [];
  const params: Array<string | number> = [];
  for (const action of criteria.action !== undefined ? [criteria.action] : VAULT_ACTIONS) {
    for (const result of criteria.result !== undefined ? [criteria.result] : VAULT_RESULTS) {
      arms.push(arm);
      params.push(...prefix.map(([, value]) => value), action, result, after);
    }
  }
  return { sql: `${arms.join(' UNION ALL ')} ORDER BY seq LIMIT ?`, params };
}
