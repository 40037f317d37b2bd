import { Injectable } from '@nestjs/common';
import { SealedValueStore, sqliteSealedColumn } from '@app/vault/keyring/sealed-values';
import type { Database, Statement } from 'better-sqlite3';
import { SqliteStoreHandle, SqliteWriteTurns } from '@app/persistence';
import { WifiChallenge } from '../../../../domain/wifi-challenge';
import { WifiChallengeRepository } from '../../wifi-challenge.repository';
import {
  WifiChallengeRow,
  WifiChallengeSqliteMapper as Mapper,
} from '../mappers/wifi-challenge.mapper';
import { PROVISIONING_SQLITE_MIGRATIONS } from '../sqlite-provisioning.migrations';

@Injectable()
export class SqliteWifiChallengeRepository extends WifiChallengeRepository {
  private readonly sealedValues: SealedValueStore;
  private readonly db: Database;
  private readonly turns: SqliteWriteTurns;
  private readonly byId: Statement<[string], WifiChallengeRow>;

  constructor(store: SqliteStoreHandle) {
    super();
    store.migrate('provisioning', PROVISIONING_SQLITE_MIGRATIONS);
    this.db = store.db;
    this.turns = store.writeTurns;
    this.byId = this.db.prepare('SELECT * FROM wifi_challenges WHERE id = ?');
    this.sealedValues = sqliteSealedColumn(store, 'wifi_challenges', 'id', 'wifi_password_sealed');
  }

  async create(challenge: WifiChallenge): Promise<void> {
    const insert = this.db.prepare(
      `INSERT INTO wifi_challenges (id, device_id, challenge, answer_hash, wifi_ssid, wifi_password_sealed, status,
         wrong_attempts, created_by, key_fingerprint, kiosk_changed_at, created_at, expires_at, used_at, tag)
       VALUES (@id, @device_id, @challenge, @answer_hash, @wifi_ssid, @wifi_password_sealed, @status,
         @wrong_attempts, @created_by, @key_fingerprint, @kiosk_changed_at, @created_at, @expires_at, @used_at, @tag)`,
    );
    await this.turns.write(() => insert.run(Mapper.toPersistence(challenge)));
  }

  async findById(id: string): Promise<WifiChallenge | undefined> {
    const row = this.byId.get(id);
    return row ? Mapper.toDomain(row) : undefined;
  }

  async markUsed(id: string, now: Date): Promise<boolean> {
    const iso = now.toISOString();
    const mark = this.db.prepare(
      "UPDATE wifi_challenges SET status = 'used', used_at = ? WHERE id = ? AND status = 'pending' AND expires_at > ?",
    );
    return (await this.turns.write(() => mark.run(iso, id, iso))).changes === 1;
  }

  async unmarkUsed(id: string, usedAt: Date): Promise<boolean> {
    const unmark = this.db.prepare(
      "UPDATE wifi_challenges SET status = 'pending', used_at = NULL WHERE id = ? AND status = 'used' AND used_at = ?",
    );
    return (await this.turns.write(() => unmark.run(id, usedAt.toISOString()))).changes === 1;
  }

  async recordWrongAnswer(id: string, maxAttempts: number): Promise<WifiChallenge | undefined> {
    const count = this.db.prepare(
      `UPDATE wifi_challenges
         SET wrong_attempts = wrong_attempts + 1,
             status = CASE WHEN wrong_attempts + 1 >= ? THEN 'locked' ELSE status END
       WHERE id = ? AND status = 'pending'`,
    );
    // the challenge as this write left it (read in the same turn)
    const row = await this.turns.write(() => {
      count.run(maxAttempts, id);
      return this.byId.get(id);
    });
    return row ? Mapper.toDomain(row) : undefined;
  }

  async deleteExpired(before: Date): Promise<number> {
    const purge = this.db.prepare('DELETE FROM wifi_challenges WHERE expires_at < ?');
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
