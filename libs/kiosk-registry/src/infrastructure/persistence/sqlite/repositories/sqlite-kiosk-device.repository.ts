import { Injectable } from '@nestjs/common';
import type { Database, Statement } from 'better-sqlite3';
import { LimitedStatement, SqliteStoreHandle, SqliteWriteTurns } from '@app/persistence';
import { KioskDevice, KioskEvent, KioskStatus } from '../../../../domain/kiosk-device';
import {
  KeyInUse,
  KioskDeviceRepository,
  RegisterOutcome,
  StatusChange,
} from '../../kiosk-device.repository';
import {
  KioskDeviceRow,
  KioskDeviceSqliteMapper as Mapper,
  KioskEventRow,
} from '../mappers/kiosk-device.mapper';
import { KIOSK_SQLITE_MIGRATIONS } from '../sqlite-kiosk.migrations';

@Injectable()
export class SqliteKioskDeviceRepository extends KioskDeviceRepository {
  private readonly db: Database;
  private readonly turns: SqliteWriteTurns;
  private readonly insertDevice: Statement;
  private readonly insertEvent: Statement;
  private readonly byDeviceId: Statement<[string], KioskDeviceRow>;
  private readonly otherWithKey: Statement<[string, string], KioskDeviceRow>;
  private readonly listPage: LimitedStatement<[string], KioskDeviceRow>;
  private readonly prefixPage: LimitedStatement<[string, string, string, string], KioskDeviceRow>;
  private readonly eventsOf: Statement<[string], KioskEventRow>;

  constructor(store: SqliteStoreHandle) {
    super();
    store.migrate('device-trust.kiosk', KIOSK_SQLITE_MIGRATIONS);
    this.db = store.db;
    this.turns = store.writeTurns;
    this.insertDevice = this.db.prepare(
      `INSERT INTO kiosk_devices (id, device_id, public_key_pem, key_fingerprint, status, created_at, updated_at)
       VALUES (@id, @device_id, @public_key_pem, @key_fingerprint, @status, @created_at, @updated_at)
       ON CONFLICT (device_id) DO NOTHING`,
    );
    this.insertEvent = this.db.prepare(
      `INSERT INTO kiosk_events (id, device_id, action, actor, reason, key_fingerprint, previous_key_fingerprint, at)
       VALUES (@id, @device_id, @action, @actor, @reason, @key_fingerprint, @previous_key_fingerprint, @at)`,
    );
    this.byDeviceId = this.db.prepare('SELECT * FROM kiosk_devices WHERE device_id = ?');
    this.otherWithKey = this.db.prepare(
      'SELECT * FROM kiosk_devices WHERE key_fingerprint = ? AND device_id <> ? ORDER BY device_id LIMIT 1',
    );
    this.listPage = new LimitedStatement(this.db, KIOSK_LIST_SQL);
    this.prefixPage = new LimitedStatement(this.db, KIOSK_PREFIX_LIST_SQL);
    this.eventsOf = this.db.prepare(KIOSK_EVENTS_SQL);
  }

  async register(device: KioskDevice, event: KioskEvent): Promise<RegisterOutcome> {
    // the reads decide the write: BEGIN IMMEDIATE (see `immediate`)
    return this.turns.write(
      this.immediate((): RegisterOutcome => {
        const existing = this.byDeviceId.get(device.deviceId);
        if (existing) return { outcome: 'exists', device: Mapper.toDomain(existing) };
        const holder = this.otherWithKey.get(device.keyFingerprint, device.deviceId);
        if (holder) return { outcome: 'key_in_use', device: Mapper.toDomain(holder) };
        const inserted = this.insertDevice.run(Mapper.toPersistence(device)).changes === 1;
        if (inserted) {
          this.insertEvent.run(Mapper.eventToPersistence(event));
          return { outcome: 'created', device };
        }
        return {
          outcome: 'exists',
          device: Mapper.toDomain(this.byDeviceId.get(device.deviceId)!),
        };
      }),
    );
  }

  /**
   * `work` as one immediate transaction: it reads, then writes what it read allows. A deferred
   * one holds a read snapshot from its first read, and SQLite does not wait to upgrade a read to
   * a write: while another connection holds the write lock (the checkpoint thread's TRUNCATE
   * checkpoint or its write that starts the WAL over, another process) its first write fails at
   * once with SQLITE_BUSY (503 storage_unavailable), where an immediate one waits for the lock
   * (busy_timeout) before it reads.
   */
  private immediate<T>(work: () => T): () => T {
    return () => this.db.transaction(work).immediate();
  }

  async findByDeviceId(deviceId: string): Promise<KioskDevice | undefined> {
    const row = this.byDeviceId.get(deviceId);
    return row ? Mapper.toDomain(row) : undefined;
  }

  async rotateKey(
    deviceId: string,
    key: { publicKeyPem: string; keyFingerprint: string },
    event: KioskEvent,
  ): Promise<KioskDevice | KeyInUse | undefined> {
    return this.turns.write(
      this.immediate((): KioskDevice | KeyInUse | undefined => {
        const holder = this.otherWithKey.get(key.keyFingerprint, deviceId);
        if (holder) return { keyInUseBy: holder.device_id };
        const changed = this.db
          .prepare(
            'UPDATE kiosk_devices SET public_key_pem = ?, key_fingerprint = ?, updated_at = ? WHERE device_id = ?',
          )
          .run(key.publicKeyPem, key.keyFingerprint, event.at.toISOString(), deviceId).changes;
        if (changed === 0) return undefined;
        this.insertEvent.run(Mapper.eventToPersistence(event));
        return Mapper.toDomain(this.byDeviceId.get(deviceId)!);
      }),
    );
  }

  async setStatus(
    deviceId: string,
    status: KioskStatus,
    event: KioskEvent,
  ): Promise<StatusChange | undefined> {
    return this.turns.write(() =>
      this.db
        .transaction((): StatusChange | undefined => {
          const changed = this.db
            .prepare(
              'UPDATE kiosk_devices SET status = ?, updated_at = ? WHERE device_id = ? AND status <> ?',
            )
            .run(status, event.at.toISOString(), deviceId, status).changes;
          if (changed === 0) {
            // unknown, or in that status already: nothing written
            const row = this.byDeviceId.get(deviceId);
            return row ? { device: Mapper.toDomain(row), changed: false } : undefined;
          }
          this.insertEvent.run(Mapper.eventToPersistence(event));
          return { device: Mapper.toDomain(this.byDeviceId.get(deviceId)!), changed: true };
        })
        .immediate(),
    );
  }

  async list(options: {
    limit: number;
    afterDeviceId?: string;
    prefix?: string;
  }): Promise<KioskDevice[]> {
    if (!options.prefix) {
      return this.listPage.all([options.afterDeviceId ?? ''], options.limit).map(Mapper.toDomain);
    }
    const prefix = options.prefix;
    return this.prefixPage
      .all([options.afterDeviceId ?? '', prefix, prefix, prefix], options.limit)
      .map(Mapper.toDomain);
  }

  async listEvents(deviceId: string): Promise<KioskEvent[]> {
    return this.eventsOf.all(deviceId).map(Mapper.eventToDomain);
  }
}

/** The listings, exported for the query-plan test: a keyset on the unique device_id index. */
export const KIOSK_LIST_SQL =
  'SELECT * FROM kiosk_devices WHERE device_id > ? ORDER BY device_id LIMIT ?';
// substr() compares bytes exactly: no LIKE wildcards, no case folding; `>= prefix` seeks the index.
export const KIOSK_PREFIX_LIST_SQL = `SELECT * FROM kiosk_devices WHERE device_id > ? AND device_id >= ?
  AND substr(device_id, 1, length(?)) = ? ORDER BY device_id LIMIT ?`;
export const KIOSK_EVENTS_SQL = 'SELECT * FROM kiosk_events WHERE device_id = ? ORDER BY at, rowid';
