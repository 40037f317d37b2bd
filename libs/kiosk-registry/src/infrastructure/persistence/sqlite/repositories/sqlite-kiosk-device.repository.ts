import { Injectable, Logger, Optional } from '@nestjs/common';
import type { Database, Statement } from 'better-sqlite3';
import {
  LegacyTaggingState,
  LimitedStatement,
  logLegacyTagging,
  readTransaction,
  sqliteLegacyTaggingState,
  SqliteStoreHandle,
  SqliteWriteTurns,
  tagLegacyRowsOnceSqlite,
} from '@app/persistence';
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
import { KioskRegistryError } from '../../../../kiosk-registry.errors';
import {
  alarmKioskLegacyRefused,
  alarmKioskMarkMissing,
  alarmKioskMarkUnverified,
  KioskEventSequence,
  KioskMarkRetag,
  KioskRetagOutcome,
  kioskRetagOutcome,
  KioskSeal,
  KioskStoredEvent,
  KioskStoredMark,
} from '../../kiosk-seal';

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
  /** The tags' reads (KioskEventSequence, a kiosk's newest numbered event): on first use. */
  private newestOf?: Statement<[string], KioskEventRow>;
  private numberedRow?: Statement<[number], { n: number; top: number | null }>;
  private markRow?: Statement<[], KioskStoredMark>;
  private readonly logger = new Logger('KioskSeal');
  /** The unverified mark's tag this process raised its ALARM over (once per mark). */
  private alarmedMark?: unknown;

  constructor(
    store: SqliteStoreHandle,
    @Optional() private readonly seal?: KioskSeal,
  ) {
    super();
    store.migrate('device-trust.kiosk', KIOSK_SQLITE_MIGRATIONS);
    this.db = store.db;
    this.turns = store.writeTurns;
    this.insertDevice = this.db.prepare(
      `INSERT INTO kiosk_devices (id, device_id, public_key_pem, key_fingerprint, status, created_at, updated_at, tag, event_id, event_seq)
       VALUES (@id, @device_id, @public_key_pem, @key_fingerprint, @status, @created_at, @updated_at, @tag, @event_id, @event_seq)
       ON CONFLICT (device_id) DO NOTHING`,
    );
    this.insertEvent = this.db.prepare(
      `INSERT INTO kiosk_events (id, device_id, action, actor, reason, key_fingerprint, previous_key_fingerprint, at, seq, tag)
       VALUES (@id, @device_id, @action, @actor, @reason, @key_fingerprint, @previous_key_fingerprint, @at, @seq, @tag)`,
    );
    this.byDeviceId = this.db.prepare('SELECT * FROM kiosk_devices WHERE device_id = ?');
    this.otherWithKey = this.db.prepare(
      'SELECT * FROM kiosk_devices WHERE key_fingerprint = ? AND device_id <> ? ORDER BY device_id LIMIT 1',
    );
    this.listPage = new LimitedStatement(this.db, KIOSK_LIST_SQL);
    this.prefixPage = new LimitedStatement(this.db, KIOSK_PREFIX_LIST_SQL);
    this.eventsOf = this.db.prepare(KIOSK_EVENTS_SQL);
    if (seal) this.sealLegacy(seal);
  }

  // async: a store that fails (the file gone, an I/O error) rejects, which /health reports,
  // rather than throwing out of its caller
  async legacySeal(): Promise<LegacyTaggingState> {
    return sqliteLegacyTaggingState(this.db, 'kiosk_seal', this.legacyRefused);
  }

  /**
   * Kiosks stored before the tags (migration 3) are tagged once, as legacy, by the first server
   * with the tags, under the fraud store's rule and switch (tagLegacyRowsOnceSqlite). A refusal
   * leaves the untagged kiosks `tampered` (blocked).
   */
  private sealLegacy(seal: KioskSeal): void {
    const result = tagLegacyRowsOnceSqlite(this.db, seal, {
      markerTable: 'kiosk_seal',
      taggedSql: 'SELECT EXISTS (SELECT 1 FROM kiosk_devices WHERE tag IS NOT NULL) AS tagged',
      untaggedSql: 'SELECT EXISTS (SELECT 1 FROM kiosk_devices WHERE tag IS NULL) AS untagged',
      tagUntagged: () => {
        let count = 0;
        const tag = this.db.prepare('UPDATE kiosk_devices SET tag = ? WHERE id = ?');
        for (const row of this.db
          .prepare<[], KioskDeviceRow>('SELECT * FROM kiosk_devices WHERE tag IS NULL')
          .all()) {
          tag.run(seal.tag(Mapper.toDomain(row), true), row.id);
          count++;
        }
        return count;
      },
    });
    this.legacyRefused = logLegacyTagging(result, this.logger, {
      counted: 'kiosks',
      tagged: 'Kiosks from before the tags tagged as legacy',
      alarm: alarmKioskLegacyRefused,
    });
  }

  /** A stored kiosk as the domain reads it: its tag checked when the store tags. */
  private toDomain(row: KioskDeviceRow, sequence = this.sequence()): KioskDevice {
    const device = Mapper.toDomain(row);
    if (!this.seal) return device;
    const stored = { tag: row.tag, eventId: row.event_id, eventSeq: row.event_seq };
    return this.seal.checked(device, stored, this.newestEvent(row.device_id), sequence);
  }

  /**
   * The numbering as a page of kiosks asks it, in the page's read transaction: the mark read
   * once, and the numbered events counted once past the page's lowest event number. When none
   * past it is missing (as many as the newest number is past it: the numbers are unique), the
   * count past any higher number up to the newest follows from it, exactly; otherwise (a hole)
   * each row's is counted, once per number. One range count a page instead of one a row.
   */
  private pageSequence(rows: readonly KioskDeviceRow[]): KioskEventSequence {
    const base = this.sequence();
    const bound = rows.map((r) => r.event_seq).filter((s): s is number => Number.isSafeInteger(s));
    const lowest = bound.length > 0 ? Math.min(...bound) : undefined;
    const counted = new Map<number, { count: number; newest: number | undefined }>();
    const numbered = (after: number) => {
      let n = counted.get(after);
      if (!n) counted.set(after, (n = base.numbered(after)));
      return n;
    };
    let mark: { stored: KioskStoredMark | undefined } | undefined;
    return {
      mark: () => (mark ??= { stored: base.mark() }).stored,
      numbered: (after) => {
        if (lowest !== undefined && after > lowest) {
          const whole = numbered(lowest);
          if (whole.newest !== undefined && whole.count === whole.newest - lowest) {
            if (after <= whole.newest) return { count: whole.newest - after, newest: whole.newest };
          }
        }
        return numbered(after);
      },
    };
  }

  /** A kiosk's newest numbered event (its (device, seq) index range read at its end). */
  private newestEvent(deviceId: string): KioskStoredEvent | undefined {
    const row = (this.newestOf ??= this.db.prepare(KIOSK_NEWEST_EVENT_SQL)).get(deviceId);
    return row ? storedEvent(row) : undefined;
  }

  /** The store-wide numbering, read lazily as KioskSeal asks. */
  private sequence(): KioskEventSequence {
    return {
      numbered: (after) => {
        const row = (this.numberedRow ??= this.db.prepare(
          `SELECT (SELECT count(*) FROM kiosk_events WHERE seq > ?) AS n,
                  (SELECT max(seq) FROM kiosk_events) AS top`,
        )).get(after)!;
        return { count: row.n, newest: row.top ?? undefined };
      },
      mark: () => this.mark(),
    };
  }

  private mark(): KioskStoredMark | undefined {
    return (this.markRow ??= this.db.prepare(
      'SELECT seq, tag FROM kiosk_event_mark WHERE id = 1',
    )).get();
  }

  /**
   * Writes `event` numbered next (past the newest event and the mark: a number deleted stays a
   * hole) with the mark, and returns the row fields binding `state` to it. In the caller's
   * transaction. Without the tags: the event unnumbered, the state untagged.
   *
   * The mark is advanced only from one that verifies (KioskSeal.nextSeq): deleted while events
   * are numbered, the event skips a number (numbered on from the events alone, it could take a
   * newest event's number deleted with the mark, and the mark written with it would make the
   * numbering whole again: a row put back verifying), with an ALARM; one that does not verify
   * refuses the write (503 kiosk_mark_unverified), the mark left as it is, one ALARM per mark.
   */
  private record(
    state: KioskDevice,
    event: KioskEvent,
  ): { tag: string | null; event_id: string | null; event_seq: number | null } {
    const seal = this.seal;
    if (!seal) {
      this.insertEvent.run({ ...Mapper.eventToPersistence(event), seq: null, tag: null });
      return { tag: null, event_id: null, event_seq: null };
    }
    const newest = this.db
      .prepare<[], { seq: number | null }>('SELECT max(seq) AS seq FROM kiosk_events')
      .get()!.seq;
    const mark = this.mark();
    const next = seal.nextSeq(mark, newest ?? undefined);
    if (next === 'unverified') {
      if (this.alarmedMark !== mark!.tag) alarmKioskMarkUnverified(this.logger);
      this.alarmedMark = mark!.tag;
      throw new KioskRegistryError(
        'kiosk_mark_unverified',
        "The kiosk events' mark does not verify under a store-MAC key this server holds: no kiosk change is written (see the server's log)",
      );
    }
    if (next.skipped) alarmKioskMarkMissing(this.logger, next.seq);
    const seq = next.seq;
    this.insertEvent.run({
      ...Mapper.eventToPersistence(event),
      seq,
      tag: seal.eventTag(event, seq),
    });
    this.db
      .prepare(
        `INSERT INTO kiosk_event_mark (id, seq, tag) VALUES (1, @seq, @tag)
         ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, tag = excluded.tag`,
      )
      .run({ seq, tag: seal.markTag(seq) });
    return {
      tag: seal.stateTag(state, { eventId: event.id, seq }),
      event_id: event.id,
      event_seq: seq,
    };
  }

  async register(device: KioskDevice, event: KioskEvent): Promise<RegisterOutcome> {
    // the reads decide the write: BEGIN IMMEDIATE (see `immediate`)
    return this.turns.write(
      this.immediate((): RegisterOutcome => {
        const existing = this.byDeviceId.get(device.deviceId);
        if (existing) return { outcome: 'exists', device: this.toDomain(existing) };
        const holder = this.otherWithKey.get(device.keyFingerprint, device.deviceId);
        if (holder) return { outcome: 'key_in_use', device: this.toDomain(holder) };
        // the device, its event and the mark, or nothing (the transaction)
        const bound = this.record(device, event);
        const inserted =
          this.insertDevice.run({ ...Mapper.toPersistence(device), ...bound }).changes === 1;
        if (inserted) {
          return {
            outcome: 'created',
            device: this.seal ? { ...device, integrity: 'verified' } : device,
          };
        }
        // unreachable under BEGIN IMMEDIATE (the read above saw none); the event taken back
        throw new Error(`Kiosk ${device.deviceId} appeared inside its registration`);
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

  /**
   * The kiosk, checked in one read transaction: the row, its newest event, the mark and the
   * numbering as of one moment (a WAL snapshot). Read statement by statement, a kiosk event
   * another process (a replica on the file) commits between the mark and the count would leave
   * the count one past the mark: `tampered` for that read.
   */
  async findByDeviceId(deviceId: string): Promise<KioskDevice | undefined> {
    return readTransaction(this.db, () => {
      const row = this.byDeviceId.get(deviceId);
      return row ? this.toDomain(row) : undefined;
    });
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
        const row = this.byDeviceId.get(deviceId);
        if (!row) return undefined;
        // a kiosk whose tag does not verify comes out of the rotation blocked: its stored
        // status is nobody's word (an admin's unblock then makes it active)
        const current = this.toDomain(row);
        const rotated: KioskDevice = {
          ...Mapper.toDomain(row),
          ...key,
          status: current.integrity === 'tampered' ? 'blocked' : current.status,
          updatedAt: event.at,
        };
        this.db
          .prepare(
            `UPDATE kiosk_devices SET public_key_pem = @public_key_pem, key_fingerprint = @key_fingerprint,
               status = @status, updated_at = @updated_at, tag = @tag, event_id = @event_id,
               event_seq = @event_seq WHERE device_id = @device_id`,
          )
          .run({ ...Mapper.toPersistence(rotated), ...this.record(rotated, event) });
        return this.toDomain(this.byDeviceId.get(deviceId)!);
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
          const row = this.byDeviceId.get(deviceId);
          if (!row) return undefined;
          const current = this.toDomain(row);
          // in that status already: nothing written. A kiosk whose tag does not verify is not
          // changed either (a tag now would vouch for a key nobody checked): a key rotation
          // repairs it
          if (row.status === status || current.integrity === 'tampered') {
            return { device: current, changed: false };
          }
          const next: KioskDevice = { ...current, status, updatedAt: event.at };
          this.db
            .prepare(
              `UPDATE kiosk_devices SET status = @status, updated_at = @updated_at, tag = @tag,
                 event_id = @event_id, event_seq = @event_seq WHERE device_id = @device_id`,
            )
            .run({ ...Mapper.toPersistence(next), ...this.record(next, event) });
          return { device: this.toDomain(this.byDeviceId.get(deviceId)!), changed: true };
        })
        .immediate(),
    );
  }

  async list(options: {
    limit: number;
    afterDeviceId?: string;
    prefix?: string;
  }): Promise<KioskDevice[]> {
    // the page and each kiosk's check in one snapshot, as findByDeviceId
    return readTransaction(this.db, () => {
      const after = options.afterDeviceId ?? '';
      const prefix = options.prefix;
      const rows = prefix
        ? this.prefixPage.all([after, prefix, prefix, prefix], options.limit)
        : this.listPage.all([after], options.limit);
      const sequence = this.pageSequence(rows);
      return rows.map((r) => this.toDomain(r, sequence));
    });
  }

  async retagPage(
    afterDeviceId: string,
    limit: number,
    except: readonly string[],
  ): Promise<KioskRetagOutcome[]> {
    const seal = this.seal;
    if (!seal) return [];
    const ids = this.listPage.all([afterDeviceId], limit).map((r) => r.device_id);
    const out: KioskRetagOutcome[] = [];
    for (const deviceId of ids) {
      // read and written in one transaction under the write turn: nothing changes between
      const outcome = await this.turns.write(
        this.immediate((): KioskRetagOutcome | undefined => {
          const row = this.byDeviceId.get(deviceId);
          if (!row) return undefined;
          const eventRows = this.db
            .prepare<[string], KioskEventRow>(
              'SELECT * FROM kiosk_events WHERE device_id = ? AND seq IS NOT NULL ORDER BY seq',
            )
            .all(deviceId);
          const plan = seal.retagPlan(
            {
              kiosk: Mapper.toDomain(row),
              tag: row.tag,
              eventId: row.event_id,
              eventSeq: row.event_seq,
            },
            this.toDomain(row).integrity!,
            eventRows.map(storedEvent),
            except,
          );
          if (plan.stateTag !== undefined) {
            this.db
              .prepare('UPDATE kiosk_devices SET tag = ? WHERE device_id = ?')
              .run(plan.stateTag, deviceId);
          }
          plan.eventTags.forEach((tag, i) => {
            if (tag === undefined) return;
            this.db
              .prepare('UPDATE kiosk_events SET tag = ? WHERE id = ?')
              .run(tag, eventRows[i].id);
          });
          return kioskRetagOutcome(deviceId, plan);
        }),
      );
      if (outcome) out.push(outcome);
    }
    return out;
  }

  async retagMark(except: readonly string[]): Promise<KioskMarkRetag | undefined> {
    const seal = this.seal;
    if (!seal) return undefined;
    // read and written in one transaction under the write turn
    return this.turns.write(
      this.immediate(() => {
        const outcome = seal.retagMark(this.mark(), this.sequence().numbered(0), except);
        if (outcome?.tag !== undefined) {
          this.db.prepare('UPDATE kiosk_event_mark SET tag = ? WHERE id = 1').run(outcome.tag);
        }
        return outcome;
      }),
    );
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
/** A kiosk's newest numbered event: one seek at the end of its (device, seq) index range. */
export const KIOSK_NEWEST_EVENT_SQL = `SELECT * FROM kiosk_events WHERE device_id = ? AND seq IS NOT NULL
  ORDER BY seq DESC LIMIT 1`;

function storedEvent(row: KioskEventRow): KioskStoredEvent {
  return { event: Mapper.eventToDomain(row), seq: row.seq!, tag: row.tag };
}
