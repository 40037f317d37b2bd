import { Injectable } from '@nestjs/common';
import { SealedValueStore, sqliteSealedColumn } from '@app/vault/keyring/sealed-values';
import type { Database, Statement } from 'better-sqlite3';
import { SqliteStoreHandle } from '@app/persistence';
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
  private readonly byId: Statement<[string], PairingSessionRow>;

  constructor(store: SqliteStoreHandle) {
    super();
    store.migrate('session', SESSION_SQLITE_MIGRATIONS);
    this.db = store.db;
    this.byId = this.db.prepare('SELECT * FROM pairing_sessions WHERE id = ?');
    this.sealedValues = sqliteSealedColumn(
      store.db,
      'pairing_sessions',
      'id',
      'platform_id_sealed',
    );
  }

  async create(session: PairingSession): Promise<void> {
    this.db
      .prepare(
        `INSERT INTO pairing_sessions (id, protocol, user_id, platform_id_sealed, platform_alias, status, device_id,
           image_file_id, result_status, result_status_code, result_latency_ms, created_at, expires_at, completed_at)
         VALUES (@id, @protocol, @user_id, @platform_id_sealed, @platform_alias, @status, @device_id,
           @image_file_id, @result_status, @result_status_code, @result_latency_ms, @created_at, @expires_at, @completed_at)`,
      )
      .run(Mapper.toPersistence(session));
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
    const { changes } = this.db
      .prepare(
        `UPDATE pairing_sessions SET platform_id_sealed = ?, platform_alias = ?
           WHERE id = ? AND platform_id_sealed IS NULL`,
      )
      .run(platformIdSealed, platformAlias, id);
    return changes === 1;
  }

  async setDevice(id: string, deviceId: string): Promise<void> {
    this.db.prepare('UPDATE pairing_sessions SET device_id = ? WHERE id = ?').run(deviceId, id);
  }

  async claimSubmission(id: string, now: Date): Promise<boolean> {
    return (
      this.db
        .prepare(
          "UPDATE pairing_sessions SET status = 'submitting' WHERE id = ? AND status = 'open' AND expires_at > ?",
        )
        .run(id, now.toISOString()).changes === 1
    );
  }

  async releaseSubmission(id: string): Promise<void> {
    this.db
      .prepare("UPDATE pairing_sessions SET status = 'open' WHERE id = ? AND status = 'submitting'")
      .run(id);
  }

  async completeSubmission(id: string, result: SessionResult, at: Date): Promise<void> {
    this.db
      .prepare(
        `UPDATE pairing_sessions SET status = 'completed', result_status = ?, result_status_code = ?,
           result_latency_ms = ?, completed_at = ? WHERE id = ? AND status = 'submitting'`,
      )
      .run(result.status, result.statusCode, result.latencyMs, at.toISOString(), id);
  }

  async attachImage(id: string, fileId: string): Promise<void> {
    this.db.prepare('UPDATE pairing_sessions SET image_file_id = ? WHERE id = ?').run(fileId, id);
  }

  async deleteExpired(before: Date): Promise<number> {
    return this.db
      .prepare('DELETE FROM pairing_sessions WHERE expires_at < ?')
      .run(before.toISOString()).changes;
  }

  listSealedNotUnder(version: string, afterKey: string, limit: number) {
    return this.sealedValues.listSealedNotUnder(version, afterKey, limit);
  }

  replaceSealed(key: string, expected: string, next: string): Promise<boolean> {
    return this.sealedValues.replaceSealed(key, expected, next);
  }
}
