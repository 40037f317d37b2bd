import { Injectable } from '@nestjs/common';
import { SealedValueStore, sqliteSealedColumn } from '@app/vault/keyring/sealed-values';
import type { Database, Statement } from 'better-sqlite3';
import { LimitedStatement, SqliteStoreHandle, SqliteWriteTurns } from '@app/persistence';
import {
  WorkerDevice,
  WorkerDeviceEvent,
  WorkerDeviceEventAction,
} from '../../../../domain/worker-device';
import { WorkerDevicePage, WorkerDeviceRepository } from '../../worker-device.repository';
import { IssuedToken } from '../../issued-token.repository';
import { insertIssuedToken } from './sqlite-issued-token.repository';
import {
  WorkerDeviceEventRow,
  WorkerDeviceRow,
  WorkerDeviceSqliteMapper as Mapper,
} from '../mappers/worker-device.mapper';
import { WORKER_DEVICE_SQLITE_MIGRATIONS } from '../sqlite-worker-device.migrations';

@Injectable()
export class SqliteWorkerDeviceRepository extends WorkerDeviceRepository {
  private readonly sealedValues: SealedValueStore;
  private readonly db: Database;
  private readonly turns: SqliteWriteTurns;
  private readonly insertEvent: Statement;
  private readonly byDeviceId: Statement<[string], WorkerDeviceRow>;
  private readonly listPage: LimitedStatement<[string], WorkerDeviceRow>;
  private readonly workerListPage: LimitedStatement<[string, string], WorkerDeviceRow>;
  private readonly eventsOf: Statement<[string], WorkerDeviceEventRow>;
  /** `touchLastSeen`'s and `listDeviceIdsBySimHash`' statements (prepared on first use). */
  private touch?: Statement<[string, string | null, string, string]>;
  private bySimHash?: Statement<[string], { device_id: string }>;
  /** `lastEventAt`'s statement (prepared on first use). */
  private lastEventOf?: Statement<[string, string], { at: string }>;

  constructor(store: SqliteStoreHandle) {
    super();
    store.migrate('device-trust.worker-devices', WORKER_DEVICE_SQLITE_MIGRATIONS);
    this.db = store.db;
    this.turns = store.writeTurns;
    this.insertEvent = this.db.prepare(
      `INSERT INTO worker_device_events (id, device_id, action, actor, reason, at)
       VALUES (@id, @device_id, @action, @actor, @reason, @at)`,
    );
    this.byDeviceId = this.db.prepare('SELECT * FROM worker_devices WHERE device_id = ?');
    this.listPage = new LimitedStatement(this.db, WORKER_DEVICE_LIST_SQL);
    this.workerListPage = new LimitedStatement(this.db, WORKER_DEVICE_OF_WORKER_LIST_SQL);
    this.eventsOf = this.db.prepare(WORKER_DEVICE_EVENTS_SQL);
    this.sealedValues = sqliteSealedColumn(store, 'worker_devices', 'device_id', 'sealed_secret');
  }

  async register(
    device: WorkerDevice,
    event: WorkerDeviceEvent,
    firstToken?: IssuedToken,
  ): Promise<void> {
    // one transaction: a token record that fails takes the device with it
    await this.turns.write(() =>
      this.db
        .transaction(() => {
          this.db
            .prepare(
              `INSERT INTO worker_devices (id, device_id, user_kind, user_id, site_ids, fingerprint, sealed_secret, trust_score, is_blocked, last_seen, last_ip, created_at)
           VALUES (@id, @device_id, @user_kind, @user_id, @site_ids, @fingerprint, @sealed_secret, @trust_score, @is_blocked, @last_seen, @last_ip, @created_at)`,
            )
            .run(Mapper.toPersistence(device));
          this.insertEvent.run(Mapper.eventToPersistence(event));
          if (firstToken) insertIssuedToken(this.db, firstToken);
        })
        .immediate(),
    );
  }

  async findByDeviceId(deviceId: string): Promise<WorkerDevice | undefined> {
    const row = this.byDeviceId.get(deviceId);
    return row ? Mapper.toDomain(row) : undefined;
  }

  async list(options: WorkerDevicePage): Promise<WorkerDevice[]> {
    const after = options.afterDeviceId ?? '';
    const rows = options.workerId
      ? this.workerListPage.all([options.workerId, after], options.limit)
      : this.listPage.all([after], options.limit);
    return rows.map(Mapper.toDomain);
  }

  async setBlocked(
    deviceId: string,
    blocked: boolean,
    event: WorkerDeviceEvent,
  ): Promise<WorkerDevice | undefined> {
    return this.turns.write(() =>
      this.db
        .transaction(() => {
          const changed = this.db
            .prepare('UPDATE worker_devices SET is_blocked = ? WHERE device_id = ?')
            .run(blocked ? 1 : 0, deviceId).changes;
          if (changed === 0) return undefined;
          this.insertEvent.run(Mapper.eventToPersistence(event));
          return Mapper.toDomain(this.byDeviceId.get(deviceId)!);
        })
        .immediate(),
    );
  }

  async blockIfUnblocked(deviceId: string, event: WorkerDeviceEvent): Promise<boolean | undefined> {
    return this.turns.write(() =>
      this.db
        .transaction(() => {
          const changed = this.db
            .prepare(
              'UPDATE worker_devices SET is_blocked = 1 WHERE device_id = ? AND is_blocked = 0',
            )
            .run(deviceId).changes;
          if (changed === 0) return this.byDeviceId.get(deviceId) ? false : undefined;
          this.insertEvent.run(Mapper.eventToPersistence(event));
          return true;
        })
        .immediate(),
    );
  }

  async touchLastSeen(deviceId: string, at: Date, ip?: string): Promise<void> {
    // every sync touches its device: the statement is prepared once
    const touch = (this.touch ??= this.db.prepare(
      `UPDATE worker_devices SET last_seen = ?, last_ip = coalesce(?, last_ip)
         WHERE device_id = ? AND (last_seen IS NULL OR last_seen <= ?)`,
    ));
    const iso = at.toISOString();
    await this.turns.write(() => touch.run(iso, ip ?? null, deviceId, iso));
  }

  async listDeviceIdsBySimHash(simHash: string): Promise<string[]> {
    // asked by the fraud screen of every sync: prepared once
    return (this.bySimHash ??= this.db.prepare(
      `SELECT device_id FROM worker_devices WHERE json_extract(fingerprint, '$.simHash') = ?
         ORDER BY device_id`,
    ))
      .all(simHash)
      .map((r) => r.device_id);
  }

  async listEvents(deviceId: string): Promise<WorkerDeviceEvent[]> {
    return this.eventsOf.all(deviceId).map(Mapper.eventToDomain);
  }

  async lastEventAt(deviceId: string, action: WorkerDeviceEventAction): Promise<Date | undefined> {
    const row = (this.lastEventOf ??= this.db.prepare(WORKER_DEVICE_LAST_EVENT_SQL)).get(
      deviceId,
      action,
    );
    return row && new Date(row.at);
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

/**
 * The listings, exported for the query-plan test: a keyset on the unique device_id index, or on
 * (user_id, device_id) for one worker's phones.
 */
export const WORKER_DEVICE_LIST_SQL =
  'SELECT * FROM worker_devices WHERE device_id > ? ORDER BY device_id LIMIT ?';
export const WORKER_DEVICE_OF_WORKER_LIST_SQL = `SELECT * FROM worker_devices
  WHERE user_id = ? AND user_kind = 'worker' AND device_id > ? ORDER BY device_id LIMIT ?`;
export const WORKER_DEVICE_EVENTS_SQL =
  'SELECT * FROM worker_device_events WHERE device_id = ? ORDER BY at, rowid';
/** A device's latest event of an action: the last entry of its (device, action) index range. */
export const WORKER_DEVICE_LAST_EVENT_SQL = `SELECT at FROM worker_device_events
  WHERE device_id = ? AND action = ? ORDER BY at DESC LIMIT 1`;
