import { Injectable } from '@nestjs/common';
import type { Database, Statement } from 'better-sqlite3';
import { SqliteStoreHandle, SqliteWriteTurns } from '@app/persistence';
import { IssuedToken, IssuedTokenRepository, ReopenedWindow } from '../../issued-token.repository';
import { WORKER_DEVICE_SQLITE_MIGRATIONS } from '../sqlite-worker-device.migrations';

/** `offline_tokens`, keyed (device_id, jti): the sync's check is one primary-key read. */
@Injectable()
export class SqliteIssuedTokenRepository extends IssuedTokenRepository {
  private readonly db: Database;
  private readonly turns: SqliteWriteTurns;
  private readonly purge: Statement<[string]>;
  private readonly lookup: Statement<[string, string, string], { synced: number }>;
  private readonly markSynced: Statement<[string, string, string]>;
  private readonly evict: Statement<[string, string, string, string, string, number]>;

  constructor(store: SqliteStoreHandle) {
    super();
    // the worker devices' scope (migration 5): whichever repository is built first applies it
    store.migrate('device-trust.worker-devices', WORKER_DEVICE_SQLITE_MIGRATIONS);
    this.db = store.db;
    this.turns = store.writeTurns;
    this.purge = this.db.prepare('DELETE FROM offline_tokens WHERE keep_until <= ?');
    this.lookup = this.db.prepare(
      'SELECT synced FROM offline_tokens WHERE device_id = ? AND jti = ? AND digest = ?',
    );
    this.markSynced = this.db.prepare(
      'UPDATE offline_tokens SET synced = 1 WHERE device_id = ? AND jti = ? AND digest = ?',
    );
    // the device's records past the bound, the presented ones last, each kind oldest first,
    // never one issued at or after the new one (as on MongoDB, where two issues run at once);
    // its records are a primary-key range (the bound keeps them few). `iat` is ISO text: its
    // order is the instants'
    this.evict = this.db.prepare(
      `DELETE FROM offline_tokens WHERE device_id = ? AND jti IN (
         SELECT jti FROM offline_tokens WHERE device_id = ? AND jti <> ? AND iat < ?
         ORDER BY synced, iat, jti
         LIMIT max(0, (SELECT count(*) FROM offline_tokens WHERE device_id = ?) - ?))`,
    );
  }

  async record(token: IssuedToken, now: Date, perDevice?: number): Promise<number> {
    return this.turns.write(() =>
      this.db
        .transaction(() => {
          this.purge.run(now.toISOString());
          insertIssuedToken(this.db, token);
          return perDevice === undefined ? 0 : this.bound(token, perDevice);
        })
        .immediate(),
    );
  }

  /** Keeps `token`'s device to `perDevice` records (inside the caller's transaction). */
  private bound(token: IssuedToken, perDevice: number): number {
    const d = token.deviceId;
    const iat = token.issuedAt.toISOString();
    return this.evict.run(d, d, token.tokenId, iat, d, perDevice).changes;
  }

  async isOnRecord(deviceId: string, tokenId: string, digest: string): Promise<boolean> {
    return this.lookup.get(deviceId, tokenId, digest) !== undefined;
  }

  async presented(deviceId: string, tokenId: string, digest: string): Promise<boolean> {
    const row = this.lookup.get(deviceId, tokenId, digest);
    if (!row) return false;
    if (row.synced === 1) return true;
    // the first sync: noted in the write turn, where an issue's bound may have dropped the
    // record since the read (as an unpresented one): then it is not on record
    return this.turns.write(() => this.markSynced.run(deviceId, tokenId, digest).changes === 1);
  }

  async recordingSince(now: Date): Promise<Date> {
    return this.turns.write(() =>
      this.db
        .transaction(() => {
          const devices = this.db.prepare('SELECT 1 FROM worker_devices LIMIT 1').get();
          this.db
            .prepare('INSERT OR IGNORE INTO offline_token_recording (id, since) VALUES (1, ?)')
            .run((devices ? now : new Date(0)).toISOString());
          const row = this.db
            .prepare<[], { since: string }>(
              'SELECT since FROM offline_token_recording WHERE id = 1',
            )
            .get()!;
          return new Date(row.since);
        })
        // the read decides the write: a deferred transaction would fail its write at once with
        // SQLITE_BUSY while another connection holds the write lock (no wait to upgrade a read)
        .immediate(),
    );
  }

  async reopen(window: ReopenedWindow): Promise<void> {
    const upsert = this.db.prepare(
      `INSERT INTO offline_token_reopening (id, since, opened_at, until, kid) VALUES (1, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET since = excluded.since, opened_at = excluded.opened_at,
         until = excluded.until, kid = excluded.kid`,
    );
    await this.turns.write(() =>
      upsert.run(
        window.since.toISOString(),
        window.openedAt.toISOString(),
        window.until.toISOString(),
        window.keyId,
      ),
    );
  }

  async reopened(): Promise<ReopenedWindow | undefined> {
    const row = this.db
      .prepare<[], { since: string; opened_at: string; until: string; kid: string }>(
        'SELECT since, opened_at, until, kid FROM offline_token_reopening WHERE id = 1',
      )
      .get();
    return row
      ? {
          since: new Date(row.since),
          openedAt: new Date(row.opened_at),
          until: new Date(row.until),
          keyId: row.kid,
        }
      : undefined;
  }

  async adopt(token: IssuedToken, now: Date, perDevice?: number): Promise<boolean> {
    return this.turns.write(() =>
      this.db
        .transaction(() => {
          this.purge.run(now.toISOString());
          // another sync of the same token may have recorded it first: that one stands
          if (!this.lookup.get(token.deviceId, token.tokenId, token.digest)) {
            const taken = this.db
              .prepare('SELECT 1 FROM offline_tokens WHERE device_id = ? AND jti = ?')
              .get(token.deviceId, token.tokenId);
            if (taken) return false;
            insertIssuedToken(this.db, token, true);
            if (perDevice !== undefined) this.bound(token, perDevice);
          }
          return true;
        })
        .immediate(),
    );
  }
}

const inserts = new WeakMap<Database, Statement>();

/** Inserts one token's record (inside the caller's transaction: a registration's, a refresh's). */
export function insertIssuedToken(db: Database, token: IssuedToken, synced = false): void {
  let insert = inserts.get(db);
  if (!insert) {
    insert = db.prepare(
      `INSERT INTO offline_tokens (device_id, jti, kid, iat, exp, digest, keep_until, synced)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    inserts.set(db, insert);
  }
  insert.run(
    token.deviceId,
    token.tokenId,
    token.keyId,
    token.issuedAt.toISOString(),
    token.expiresAt.toISOString(),
    token.digest,
    token.keepUntil.toISOString(),
    synced ? 1 : 0,
  );
}
