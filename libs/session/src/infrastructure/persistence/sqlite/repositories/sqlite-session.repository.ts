import { Injectable } from '@nestjs/common';
import {
  sealedCountsByVersion,
  SealedValueStore,
  sqliteSealedColumn,
  sqliteSealedCountSql,
} from '@app/vault/keyring/sealed-values';
import type { Database, Statement } from 'better-sqlite3';
import { SqliteStoreHandle, SqliteWriteTurns } from '@app/persistence';
import { PairingSession, SessionResult } from '../../../../domain/pairing-session';
import { SessionRepository } from '../../session.repository';
import {
  PairingSessionRow,
  PairingSessionSqliteMapper as Mapper,
} from '../mappers/pairing-session.mapper';
import { SESSION_SQLITE_MIGRATIONS } from '../sqlite-session.migrations';

@Injectable()
export class SqliteSessionRepository extends SessionRepository {
  private readonly sealedValues: SealedValueStore;
  private readonly db: Database;
  private readonly turns: SqliteWriteTurns;
  private readonly byId: Statement<[string], PairingSessionRow>;

  constructor(store: SqliteStoreHandle) {
    super();
    store.migrate('session', SESSION_SQLITE_MIGRATIONS);
    this.db = store.db;
    this.turns = store.writeTurns;
    this.byId = this.db.prepare('SELECT * FROM pairing_sessions WHERE id = ?');
    this.sealedValues = sqliteSealedColumn(store, 'pairing_sessions', 'id', 'platform_id_sealed');
  }

  async create(session: PairingSession): Promise<void> {
    const insert = this.db.prepare(
      `INSERT INTO pairing_sessions (id, protocol, user_id, platform_id_sealed, platform_alias, status, device_id,
           image_file_id, result_status, result_status_code, result_latency_ms, outcome_sealed, created_at,
           expires_at, completed_at)
         VALUES (@id, @protocol, @user_id, @platform_id_sealed, @platform_alias, @status, @device_id,
           @image_file_id, @result_status, @result_status_code, @result_latency_ms, @outcome_sealed, @created_at,
           @expires_at, @completed_at)`,
    );
    await this.turns.write(() => insert.run(Mapper.toPersistence(session)));
  }

  async findById(id: string): Promise<PairingSession | undefined> {
    const row = this.byId.get(id);
    return row ? Mapper.toDomain(row) : undefined;
  }

  async setPlatformId(
    id: string,
    platformIdSealed: string,
    platformAlias: string,
  ): Promise<boolean> {
    const update = this.db.prepare(
      `UPDATE pairing_sessions SET platform_id_sealed = ?, platform_alias = ?
         WHERE id = ? AND platform_id_sealed IS NULL`,
    );
    const { changes } = await this.turns.write(() =>
      update.run(platformIdSealed, platformAlias, id),
    );
    return changes === 1;
  }

  async setDevice(id: string, deviceId: string): Promise<void> {
    const update = this.db.prepare('UPDATE pairing_sessions SET device_id = ? WHERE id = ?');
    await this.turns.write(() => update.run(deviceId, id));
  }

  async spendAppUse(id: string, at: Date): Promise<boolean> {
    const spend = this.db.prepare(
      'UPDATE pairing_sessions SET app_used_at = ? WHERE id = ? AND app_used_at IS NULL',
    );
    return (await this.turns.write(() => spend.run(at.toISOString(), id))).changes === 1;
  }

  async claimSubmission(id: string, now: Date): Promise<boolean> {
    const claim = this.db.prepare(
      "UPDATE pairing_sessions SET status = 'submitting' WHERE id = ? AND status = 'open' AND expires_at > ?",
    );
    return (await this.turns.write(() => claim.run(id, now.toISOString()))).changes === 1;
  }

  async releaseSubmission(id: string): Promise<void> {
    const release = this.db.prepare(
      "UPDATE pairing_sessions SET status = 'open' WHERE id = ? AND status = 'submitting'",
    );
    await this.turns.write(() => release.run(id));
  }

  async completeSubmission(
    id: string,
    result: SessionResult,
    at: Date,
    outcomeSealed?: string,
  ): Promise<void> {
    const complete = this.db.prepare(
      `UPDATE pairing_sessions SET status = 'completed', result_status = ?, result_status_code = ?,
         result_latency_ms = ?, outcome_sealed = ?, completed_at = ? WHERE id = ? AND status = 'submitting'`,
    );
    await this.turns.write(() =>
      complete.run(
        result.status,
        result.statusCode,
        result.latencyMs,
        outcomeSealed ?? null,
        at.toISOString(),
        id,
      ),
    );
  }

  async takeOutcome(id: string): Promise<boolean> {
    const take = this.db.prepare(
      'UPDATE pairing_sessions SET outcome_sealed = NULL WHERE id = ? AND outcome_sealed IS NOT NULL',
    );
    return (await this.turns.write(() => take.run(id))).changes === 1;
  }

  async countKeptOutcomesByVersion(now: Date): Promise<Record<string, number>> {
    const count = this.db.prepare(
      sqliteSealedCountSql('pairing_sessions', 'outcome_sealed', 'expires_at > ?'),
    );
    const rows = count.all(now.toISOString()) as { version: string; n: number }[];
    return sealedCountsByVersion(rows);
  }

  async dropExpiredOutcomes(before: Date): Promise<number> {
    const drop = this.db.prepare(
      'UPDATE pairing_sessions SET outcome_sealed = NULL WHERE expires_at < ? AND outcome_sealed IS NOT NULL',
    );
    return (await this.turns.write(() => drop.run(before.toISOString()))).changes;
  }

  async attachImage(id: string, fileId: string): Promise<void> {
    const update = this.db.prepare('UPDATE pairing_sessions SET image_file_id = ? WHERE id = ?');
    await this.turns.write(() => update.run(fileId, id));
  }

  async deleteExpired(before: Date): Promise<number> {
    const purge = this.db.prepare('DELETE FROM pairing_sessions WHERE expires_at < ?');
    return (await this.turns.write(() => purge.run(before.toISOString()))).changes;
  }

  listSealedNotUnder(version: string, afterKey: string, limit: number) {
    return this.sealedValues.listSealedNotUnder(version, afterKey, limit);
  }

  replaceSealed(key: string, expected: string, next: string): Promise<boolean> {
    return this.sealedValues.replaceSealed(key, expected, next);
  }

  countByVersion(): Promise<Record<string, number>> {
    return this.sealedValues.countByVersion();
  }
}
