import { Injectable, Logger, Optional } from '@nestjs/common';
import { SealedValueStore, sqliteSealedColumn } from '@app/vault/keyring/sealed-values';
import type { Database, Statement } from 'better-sqlite3';
import {
  LimitedStatement,
  logLegacyTagging,
  sqliteLegacyTaggingState,
  SqliteStoreHandle,
  SqliteWriteTurns,
  StoredForms,
  storedFormsCanonical,
  tagLegacyRowsOnceSqlite,
} from '@app/persistence';
import {
  WorkerDevice,
  WorkerDeviceEvent,
  WorkerDeviceEventAction,
} from '../../../../domain/worker-device';
import {
  LastWorkerDeviceEvent,
  WorkerDeviceLegacySeal,
  WorkerDevicePage,
  WorkerDeviceRepository,
} from '../../worker-device.repository';
import {
  alarmWorkerDeviceLegacyRefused,
  WorkerDeviceRetagOutcome,
  workerDeviceRetagOutcome,
  WorkerDeviceBound,
  WorkerDeviceSeal,
} from '../../worker-device-seal';
import { IssuedToken } from '../../issued-token.repository';
import { insertIssuedToken } from './sqlite-issued-token.repository';
import {
  WorkerDeviceEventRow,
  WorkerDeviceRow,
  WorkerDeviceSqliteMapper as Mapper,
} from '../mappers/worker-device.mapper';
import { WORKER_DEVICE_SQLITE_MIGRATIONS } from '../sqlite-worker-device.migrations';

/** Devices re-tagged per transaction at the retirement of the form `v1`. */
const V1_RETIREMENT_PAGE = 500;

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
  private lastEventOf?: Statement<[string, string], WorkerDeviceEventRow>;
  /** The newest event of a device (a tagged state must be the one it set): on first use. */
  private newestEventOf?: Statement<[string], WorkerDeviceEventRow>;
  private readonly logger = new Logger('WorkerDeviceSeal');

  constructor(
    store: SqliteStoreHandle,
    @Optional() private readonly seal?: WorkerDeviceSeal,
  ) {
    super();
    store.migrate('device-trust.worker-devices', WORKER_DEVICE_SQLITE_MIGRATIONS);
    this.db = store.db;
    this.turns = store.writeTurns;
    this.insertEvent = this.db.prepare(
      `INSERT INTO worker_device_events (id, device_id, action, actor, reason, at, tag)
       VALUES (@id, @device_id, @action, @actor, @reason, @at, @tag)`,
    );
    this.byDeviceId = this.db.prepare('SELECT * FROM worker_devices WHERE device_id = ?');
    this.listPage = new LimitedStatement(this.db, WORKER_DEVICE_LIST_SQL);
    this.workerListPage = new LimitedStatement(this.db, WORKER_DEVICE_OF_WORKER_LIST_SQL);
    this.eventsOf = this.db.prepare(WORKER_DEVICE_EVENTS_SQL);
    this.sealedValues = sqliteSealedColumn(store, 'worker_devices', 'device_id', 'sealed_secret');
    if (seal) {
      this.sealLegacy(seal);
      this.retireV1(seal);
    }
  }

  /**
   * At the first start with the form `v2` fully in force, every state whose tag verifies in the
   * form `v1` (which left the owner, sites, fingerprint, score and creation time uncovered) is
   * re-tagged as `v2` legacy over its fields as stored (WorkerDeviceSeal.v1RetirementTag), a
   * page per transaction, then `worker_device_seal.v1_retired_at` is set; from then on a `v1`
   * tag reads as tampered. A start stopped half-way leaves no marker: the next one goes on (a
   * re-tagged state is `v2`, left as it is).
   */
  private retireV1(seal: WorkerDeviceSeal): void {
    const retired = () =>
      (
        this.db.prepare('SELECT v1_retired_at FROM worker_device_seal WHERE id = 1').get() as
          { v1_retired_at: string | null } | undefined
      )?.v1_retired_at != null;
    if (!retired()) {
      const tagDevice = this.db.prepare(
        'UPDATE worker_devices SET block_tag = ? WHERE device_id = ?',
      );
      let count = 0;
      let after = '';
      for (;;) {
        const page = this.db
          .transaction((): WorkerDeviceRow[] => {
            const rows = this.listPage.all([after], V1_RETIREMENT_PAGE);
            for (const row of rows) {
              const tag = seal.v1RetirementTag({
                device: Mapper.toDomain(row),
                blocked: row.is_blocked === 1,
                eventId: row.block_event_id,
                tag: row.block_tag,
                integrity: this.toDomain(row).blockIntegrity!,
              });
              if (tag === undefined) continue;
              tagDevice.run(tag, row.device_id);
              count++;
            }
            return rows;
          })
          .immediate();
        if (page.length < V1_RETIREMENT_PAGE) break;
        after = page[page.length - 1].device_id;
      }
      this.db
        .prepare(
          `UPDATE worker_device_seal SET v1_retired_at = ?, v1_retired_count = ?
           WHERE id = 1 AND v1_retired_at IS NULL`,
        )
        .run(new Date().toISOString(), count);
      if (count > 0)
        this.logger.log(
          { devices: count },
          'Worker device states of the form v1 re-tagged as v2 legacy',
        );
    }
    seal.retireV1();
  }

  /**
   * Rows stored before the tags (migration 8) are tagged once, as legacy, by the first server
   * with the tags, as the fraud store does (FraudEventRepository's sealLegacy): only on a store
   * where no row carries a tag yet, and, when no row is tagged and the marker is cleared, only
   * with FRAUD_LEGACY_TAGGING on; FRAUD_LEGACY_TAGGING=1 set explicitly tags the untagged rows
   * even where tagged ones exist (WorkerDeviceSeal.legacyTaggingForced). A refusal leaves the
   * untagged devices `tampered` (blocked).
   */
  private sealLegacy(seal: WorkerDeviceSeal): void {
    const result = tagLegacyRowsOnceSqlite(this.db, seal, {
      markerTable: 'worker_device_seal',
      taggedSql: `SELECT EXISTS (SELECT 1 FROM worker_devices WHERE block_tag IS NOT NULL)
          OR EXISTS (SELECT 1 FROM worker_device_events WHERE tag IS NOT NULL) AS tagged`,
      untaggedSql: `SELECT EXISTS (SELECT 1 FROM worker_devices WHERE block_tag IS NULL)
          OR EXISTS (SELECT 1 FROM worker_device_events WHERE tag IS NULL) AS untagged`,
      tagUntagged: () => {
        let sealed = 0;
        const tagDevice = this.db.prepare(
          'UPDATE worker_devices SET block_tag = ? WHERE device_id = ?',
        );
        for (const row of this.db
          .prepare<[], WorkerDeviceRow>('SELECT * FROM worker_devices WHERE block_tag IS NULL')
          .all()) {
          tagDevice.run(
            seal.stateTag(
              Mapper.toDomain(row),
              row.is_blocked === 1,
              row.block_event_id ?? null,
              true,
            ),
            row.device_id,
          );
          sealed++;
        }
        const tagEvent = this.db.prepare('UPDATE worker_device_events SET tag = ? WHERE id = ?');
        for (const row of this.db
          .prepare<[], WorkerDeviceEventRow>('SELECT * FROM worker_device_events WHERE tag IS NULL')
          .all()) {
          tagEvent.run(seal.eventTag(Mapper.eventToDomain(row), true), row.id);
        }
        return sealed;
      },
    });
    this.legacyRefused = logLegacyTagging(result, this.logger, {
      counted: 'devices',
      tagged: 'Worker devices from before the tags tagged as legacy',
      alarm: alarmWorkerDeviceLegacyRefused,
    });
  }

  // async: a store that fails (the file gone, an I/O error) rejects, which /health reports,
  // rather than throwing out of its caller
  async legacySeal(): Promise<WorkerDeviceLegacySeal> {
    return sqliteLegacyTaggingState(this.db, 'worker_device_seal', this.legacyRefused);
  }

  /** A stored device as the domain reads it: its block state checked when the store tags. */
  private toDomain(row: WorkerDeviceRow): WorkerDevice {
    const device = Mapper.toDomain(row);
    if (!this.seal) return device;
    const newest = (this.newestEventOf ??= this.db.prepare(WORKER_DEVICE_NEWEST_EVENT_SQL)).get(
      row.device_id,
    );
    const checked = this.seal.checked(
      device,
      row.block_event_id,
      row.block_tag,
      newest ? this.eventToDomain(newest) : undefined,
    );
    // stored text is canonical: a fingerprint with a duplicate `simHash` (json_extract reads the
    // first, the tag the last) or `is_blocked = 2` (read unblocked, never auto-blocked) verifies,
    // yet is no row the server wrote: tampered, blocked
    if (!storedFormsCanonical(row, DEVICE_FORMS)) {
      checked.blockIntegrity = 'tampered';
      checked.isBlocked = true;
    }
    return checked;
  }

  private eventToDomain(row: WorkerDeviceEventRow): WorkerDeviceEvent {
    const event = Mapper.eventToDomain(row);
    if (this.seal)
      // a time respelled (`ORDER BY at DESC` sorts it elsewhere) is no event the server wrote
      event.integrity = storedFormsCanonical(row, EVENT_FORMS)
        ? this.seal.eventIntegrity(event, row.tag)
        : 'tampered';
    return event;
  }

  private eventRow(event: WorkerDeviceEvent): WorkerDeviceEventRow {
    return { ...Mapper.eventToPersistence(event), tag: this.seal?.eventTag(event) ?? null };
  }

  /** A state's tag over the device's fields as stored (`row`), with its new block state. */
  private stateTag(device: WorkerDeviceBound, blocked: boolean, eventId: string): string | null {
    return this.seal?.stateTag(device, blocked, eventId) ?? null;
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
              `INSERT INTO worker_devices (id, device_id, user_kind, user_id, site_ids, fingerprint, sealed_secret, trust_score, is_blocked, last_seen, last_ip, created_at, block_tag, block_event_id)
           VALUES (@id, @device_id, @user_kind, @user_id, @site_ids, @fingerprint, @sealed_secret, @trust_score, @is_blocked, @last_seen, @last_ip, @created_at, @block_tag, @block_event_id)`,
            )
            .run({
              ...Mapper.toPersistence(device),
              block_tag: this.stateTag(device, device.isBlocked, event.id),
              block_event_id: event.id,
            });
          this.insertEvent.run(this.eventRow(event));
          if (firstToken) insertIssuedToken(this.db, firstToken);
        })
        .immediate(),
    );
  }

  async findByDeviceId(deviceId: string): Promise<WorkerDevice | undefined> {
    const row = this.byDeviceId.get(deviceId);
    return row ? this.toDomain(row) : undefined;
  }

  async list(options: WorkerDevicePage): Promise<WorkerDevice[]> {
    const after = options.afterDeviceId ?? '';
    const rows = options.workerId
      ? this.workerListPage.all([options.workerId, after], options.limit)
      : this.listPage.all([after], options.limit);
    return rows.map((row) => this.toDomain(row));
  }

  async setBlocked(
    deviceId: string,
    blocked: boolean,
    event: WorkerDeviceEvent,
  ): Promise<WorkerDevice | undefined> {
    return this.turns.write(() =>
      this.db
        .transaction(() => {
          // the new tag covers the row's fields as stored: read in the same transaction
          const row = this.byDeviceId.get(deviceId);
          if (!row) return undefined;
          // the admin vouches for the device as the console shows it: its texts written again in
          // the server's form (a fingerprint with a duplicate key, as parsed), as tagged
          const device = Mapper.toDomain(row);
          const stored = Mapper.toPersistence(device);
          this.db
            .prepare(
              `UPDATE worker_devices SET is_blocked = ?, block_tag = ?, block_event_id = ?,
                 fingerprint = ?, site_ids = ?, created_at = ? WHERE device_id = ?`,
            )
            .run(
              blocked ? 1 : 0,
              this.stateTag(device, blocked, event.id),
              event.id,
              stored.fingerprint,
              stored.site_ids,
              stored.created_at,
              deviceId,
            );
          this.insertEvent.run(this.eventRow(event));
          return this.toDomain(this.byDeviceId.get(deviceId)!);
        })
        .immediate(),
    );
  }

  async blockIfUnblocked(deviceId: string, event: WorkerDeviceEvent): Promise<boolean | undefined> {
    return this.turns.write(() =>
      this.db
        .transaction(() => {
          // the new tag covers the row's fields as stored: read in the same transaction
          const row = this.byDeviceId.get(deviceId);
          if (!row) return undefined;
          // a state that does not verify reads blocked already: tagging it would launder the
          // row as stored (an owner moved in the database), so it is left tampered
          if (row.is_blocked !== 0 || this.toDomain(row).blockIntegrity === 'tampered')
            return false;
          this.db
            .prepare(
              'UPDATE worker_devices SET is_blocked = 1, block_tag = ?, block_event_id = ? WHERE device_id = ?',
            )
            .run(this.stateTag(Mapper.toDomain(row), true, event.id), event.id, deviceId);
          this.insertEvent.run(this.eventRow(event));
          return true;
        })
        .immediate(),
    );
  }

  async retagPage(
    afterDeviceId: string,
    limit: number,
    except: readonly string[] = [],
  ): Promise<WorkerDeviceRetagOutcome[]> {
    const seal = this.seal;
    if (!seal) throw new Error('retagPage needs the store tags (WorkerDeviceSeal)');
    const rows = this.listPage.all([afterDeviceId], limit);
    const outcomes: WorkerDeviceRetagOutcome[] = [];
    for (const { device_id: deviceId } of rows) {
      // read and written in one transaction under the write turn: nothing changes between
      const outcome = await this.turns.write(() =>
        this.db
          .transaction((): WorkerDeviceRetagOutcome => {
            const row = this.byDeviceId.get(deviceId);
            if (!row) return workerDeviceRetagOutcome(deviceId, undefined);
            const eventRows = this.eventsOf.all(deviceId);
            const plan = seal.retagPlan(
              {
                device: Mapper.toDomain(row),
                blocked: row.is_blocked === 1,
                eventId: row.block_event_id,
                tag: row.block_tag,
                integrity: this.toDomain(row).blockIntegrity!,
              },
              eventRows.map((r) => ({ event: this.eventToDomain(r), tag: r.tag })),
              except,
            );
            if (plan.stateTag !== undefined) {
              this.db
                .prepare('UPDATE worker_devices SET block_tag = ? WHERE device_id = ?')
                .run(plan.stateTag, deviceId);
            }
            plan.eventTags.forEach((tag, i) => {
              if (tag === undefined) return;
              this.db
                .prepare('UPDATE worker_device_events SET tag = ? WHERE id = ?')
                .run(tag, eventRows[i].id);
            });
            return workerDeviceRetagOutcome(deviceId, plan);
          })
          .immediate(),
      );
      outcomes.push(outcome);
    }
    return outcomes;
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
    return this.eventsOf.all(deviceId).map((row) => this.eventToDomain(row));
  }

  async lastEventAt(
    deviceId: string,
    action: WorkerDeviceEventAction,
    notAfter?: Date,
  ): Promise<LastWorkerDeviceEvent> {
    const ignored: WorkerDeviceEvent[] = [];
    const newestFirst = (this.lastEventOf ??= this.db.prepare(WORKER_DEVICE_LAST_EVENT_SQL));
    for (const row of newestFirst.iterate(deviceId, action)) {
      const event = this.eventToDomain(row);
      if (event.integrity === 'tampered' || (notAfter && event.at > notAfter)) {
        ignored.push(event);
        continue;
      }
      return { at: event.at, ignored };
    }
    return { ignored };
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
/**
 * A device's newest event as written (its state and the event are one transaction): one seek at
 * the end of its (device) index range, in rowid order.
 */
export const WORKER_DEVICE_NEWEST_EVENT_SQL = `SELECT * FROM worker_device_events
  INDEXED BY worker_device_events_device_written WHERE device_id = ? ORDER BY rowid DESC LIMIT 1`;
/**
 * A device's events of an action, newest first: its (device, action) index range read backwards
 * (the reader stops at the first the server vouches for).
 */
export const WORKER_DEVICE_LAST_EVENT_SQL = `SELECT * FROM worker_device_events
  WHERE device_id = ? AND action = ? ORDER BY at DESC`;

/** The stored forms a device's and an event's read hold to (stored text is canonical). */
const DEVICE_FORMS: StoredForms<WorkerDeviceRow> = {
  site_ids: 'json',
  fingerprint: 'json',
  is_blocked: 'flag',
  created_at: 'time',
};
const EVENT_FORMS: StoredForms<WorkerDeviceEventRow> = { at: 'time' };
