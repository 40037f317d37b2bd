import { Injectable, Logger, Optional } from '@nestjs/common';
import type { Database, Statement } from 'better-sqlite3';
import {
  canonicalSqliteTime,
  LimitedStatements,
  logLegacyTagging,
  readTransaction,
  sqliteLegacyTaggingState,
  SqliteStoreHandle,
  SqliteWriteTurns,
  tagLegacyRowsOnceSqlite,
} from '@app/persistence';
import {
  CheckedFraudWeight,
  FraudEvent,
  FraudEventCriteria,
  FraudReview,
  WEIGHING_EVENT_TYPES,
} from '../../../../domain/fraud-event';
import { FraudEventTamperedError } from '../../../../fraud.errors';
import { FraudMetrics } from '../../../../fraud.metrics';
import {
  FraudEventRepository,
  LegacySealState,
  RetagOutcome,
  ReviewOutcome,
} from '../../fraud-event.repository';
import { alarmLegacyRefused, LegacyRefusal, FraudSeal, RetagPlan } from '../../fraud-seal';
import {
  FraudEventReviewedRow,
  FraudReviewRow,
  FraudEventSqliteMapper as Mapper,
} from '../mappers/fraud-event.mapper';
import { FRAUD_SQLITE_MIGRATIONS } from '../sqlite-fraud.migrations';

@Injectable()
export class SqliteFraudEventRepository extends FraudEventRepository {
  private readonly db: Database;
  private readonly turns: SqliteWriteTurns;
  private readonly insert: Statement;
  private readonly findEvent: Statement<[string], FraudEventReviewedRow>;
  private readonly reviewsOf: Statement<[string], FraudReviewRow>;
  private readonly insertReview: Statement;
  private readonly setCurrentReview: Statement;
  /**
   * Prepared per filter shape (16 column filters x 3 review filters x 2 `from` x 3 upper
   * bounds, and the trust history's) and page size, the limit written into the SQL.
   */
  private readonly listings: LimitedStatements<FraudEventReviewedRow>;
  /**
   * A device's weighing events, the newest of each type (weighingSql), by the bound per type
   * written in (the trust read's one, 100; a few more in the tests).
   */
  private readonly weighing = new Map<
    number,
    Statement<[{ deviceId: string; from: string; to: string }], FraudEventReviewedRow>
  >();

  private readonly seal?: FraudSeal;
  private readonly logger = new Logger('FraudSeal');
  /**
   * Why this start refused the legacy tagging: rows already tagged with the marker gone, or
   * untagged rows on a store with neither while FRAUD_LEGACY_TAGGING is off.
   */
  private legacyRefused?: LegacyRefusal;

  constructor(
    store: SqliteStoreHandle,
    @Optional() seal?: FraudSeal,
    @Optional() private readonly metrics?: FraudMetrics,
  ) {
    super();
    store.migrate('fraud', FRAUD_SQLITE_MIGRATIONS);
    this.db = store.db;
    this.seal = seal;
    this.turns = store.writeTurns;
    this.listings = new LimitedStatements(this.db, 16 * 3 * 2 * 3 + 1);
    this.insert = this.db.prepare(
      `INSERT INTO fraud_events (id, type, device_id, worker_id, site_id, packet_id, detail, at,
         punch_type, punch_at, tag)
       VALUES (@id, @type, @device_id, @worker_id, @site_id, @packet_id, @detail, @at,
         @punch_type, @punch_at, @tag)`,
    );
    this.findEvent = this.db.prepare<[string], FraudEventReviewedRow>(
      'SELECT * FROM fraud_events WHERE id = ?',
    );
    this.reviewsOf = this.db.prepare<[string], FraudReviewRow>(
      'SELECT * FROM fraud_event_reviews WHERE event_id = ? ORDER BY seq',
    );
    this.insertReview = this.db.prepare(
      `INSERT INTO fraud_event_reviews (id, event_id, seq, decision, reason, actor, at, tag)
       VALUES (@id, @event_id, @seq, @decision, @reason, @actor, @at, @tag)`,
    );
    this.setCurrentReview = this.db.prepare(
      `UPDATE fraud_events SET review_id = @id, review_decision = @decision,
         review_reason = @reason, review_by = @actor, review_at = @at, tag = @event_tag
       WHERE id = @event_id`,
    );
    if (seal) this.sealLegacy(seal);
  }

  /**
   * Rows stored before the tags (fraud migration 7) are tagged once, as legacy, by the first
   * server with the tags (`fraud_seal.legacy_sealed_at` then says when, `legacy_sealed_count`
   * how many events): they read as `legacy` from then on, and a row changed after that as
   * `tampered`. An untagged row written later is `tampered`, not legacy. Only a store where no
   * row carries a tag yet is tagged: with the marker cleared (by a database writer) and tagged
   * rows present, tagging would launder any untagged row (a forged one, or a rewritten one with
   * its tag nulled) as legacy, so it is refused, loudly, and the untagged rows stay `tampered`.
   */
  private sealLegacy(seal: FraudSeal): void {
    const result = tagLegacyRowsOnceSqlite(this.db, seal, {
      markerTable: 'fraud_seal',
      taggedSql: `SELECT EXISTS (SELECT 1 FROM fraud_events WHERE tag IS NOT NULL)
          OR EXISTS (SELECT 1 FROM fraud_event_reviews WHERE tag IS NOT NULL) AS tagged`,
      untaggedSql: `SELECT EXISTS (SELECT 1 FROM fraud_events WHERE tag IS NULL)
          OR EXISTS (SELECT 1 FROM fraud_event_reviews WHERE tag IS NULL) AS untagged`,
      tagUntagged: () => {
        let sealed = 0;
        const tagEvent = this.db.prepare('UPDATE fraud_events SET tag = ? WHERE id = ?');
        const tagReview = this.db.prepare('UPDATE fraud_event_reviews SET tag = ? WHERE id = ?');
        // a thousand rows at a time, paged by id (the primary key): a big log is never all in
        // memory, and each page starts where the last ended (re-reading `tag IS NULL` from the
        // start would step over every row tagged so far: quadratic)
        const untagged = this.db.prepare<[string], FraudEventReviewedRow>(LEGACY_PAGE_SQL);
        for (let rows = untagged.all(''); rows.length > 0;) {
          for (const row of rows) {
            const event = Mapper.toDomain(row);
            tagEvent.run(seal.eventTag(event, true), event.id);
            sealed++;
            let previous: string | null = null;
            for (const r of this.reviewsOf.all(event.id)) {
              const tag: string =
                r.tag ?? seal.reviewTag(event.id, r.seq, Mapper.reviewToDomain(r), previous, true);
              if (r.tag == null) tagReview.run(tag, r.id);
              previous = tag;
            }
          }
          rows = rows.length < 1000 ? [] : untagged.all(rows[rows.length - 1].id);
        }
        return sealed;
      },
    });
    this.legacyRefused = logLegacyTagging(result, this.logger, {
      counted: 'events',
      tagged: 'Fraud events from before the tags tagged as legacy',
      evenNone: true,
      alarm: (logger, reason) => alarmLegacyRefused(logger, this.metrics, reason),
    });
  }

  // async: a store that fails (the file gone, an I/O error) rejects, which /health reports,
  // rather than throwing out of its caller
  async legacySeal(): Promise<LegacySealState> {
    return sqliteLegacyTaggingState(this.db, 'fraud_seal', this.legacyRefused);
  }

  /** The row's event, with its integrity when the store checks tags. */
  private toEvent(row: FraudEventReviewedRow): FraudEvent {
    const event = Mapper.toDomain(row);
    if (this.seal) {
      const timesCanonical =
        canonicalSqliteTime(row.at) &&
        (row.review_at === null || canonicalSqliteTime(row.review_at)) &&
        (row.punch_at == null || canonicalSqliteTime(row.punch_at));
      event.integrity = timesCanonical ? this.seal.eventIntegrity(event, row.tag) : 'tampered';
      // a listing's row: its current review must be its history's last (the detail checks the
      // whole history)
      const last = (row as { last_review_id?: string | null }).last_review_id;
      if (last !== undefined && last !== row.review_id) event.integrity = 'tampered';
    }
    return event;
  }

  /** The event's reviews, oldest first, their history checked when the store checks tags. */
  private historyOf(event: FraudEvent): { reviews: FraudReview[]; rows: FraudReviewRow[] } {
    const rows = this.reviewsOf.all(event.id);
    const reviews = rows.map(Mapper.reviewToDomain);
    this.seal?.checkHistory(
      event,
      reviews,
      rows.map((r) => r.seq),
      rows.map((r) => r.tag),
      rows.map((r) => canonicalSqliteTime(r.at)),
    );
    return { reviews, rows };
  }

  async recordAll(events: FraudEvent[]): Promise<void> {
    if (events.length === 0) return;
    await this.turns.write(() =>
      this.db
        .transaction(() => {
          for (const event of events) {
            this.insert.run(Mapper.toPersistence(event, this.seal?.eventTag(event) ?? null));
          }
        })
        .immediate(),
    );
  }

  async weighingHistories(
    deviceIds: readonly string[],
    from: Date,
    to: Date,
    perType: number,
  ): Promise<Map<string, CheckedFraudWeight[]>> {
    const found = new Map<string, CheckedFraudWeight[]>();
    if (perType < 1) return found;
    const range = { from: from.toISOString(), to: to.toISOString() };
    let weighing = this.weighing.get(perType);
    if (!weighing) {
      if (this.weighing.size >= 8) this.weighing.clear();
      weighing = this.db.prepare(weighingSql(perType));
      this.weighing.set(perType, weighing);
    }
    // one read transaction: every device of the page as of one moment
    readTransaction(this.db, () => {
      for (const deviceId of new Set(deviceIds)) {
        // one statement a device: a seek per weighing type (review M2 of the per-type read)
        const rows = weighing.all({ deviceId, ...range }).sort(newestFirst);
        if (rows.length === 0) continue;
        found.set(
          deviceId,
          rows.map((row) => {
            const e = this.toEvent(row);
            return { id: e.id, type: e.type, at: e.at, integrity: e.integrity };
          }),
        );
      }
    });
    return found;
  }

  async listByPacketIds(packetIds: string[], limit: number): Promise<FraudEvent[]> {
    const ids = [...new Set(packetIds)];
    const found: FraudEvent[] = [];
    for (let i = 0; i < ids.length && found.length < limit; i += 500) {
      const chunk = ids.slice(i, i + 500);
      found.push(
        ...this.db
          .prepare<unknown[], FraudEventReviewedRow>(
            `SELECT *, ${LAST_REVIEW_ID} FROM fraud_events WHERE packet_id IN (${chunk.map(() => '?').join(',')})
             ORDER BY at, id LIMIT ?`,
          )
          .all(...chunk, limit - found.length)
          .map((row) => this.toEvent(row)),
      );
    }
    return found;
  }

  async listRefusedPunches(siteId: string, from: Date, to: Date): Promise<FraudEvent[]> {
    return this.db
      .prepare<[string, string, string], FraudEventReviewedRow>(REFUSED_PUNCHES_SQL)
      .all(siteId, from.toISOString(), to.toISOString())
      .map((row) => this.toEvent(row));
  }

  async listOfDevicePackets(deviceId: string, packetIds: string[]): Promise<FraudEvent[]> {
    const ids = [...new Set(packetIds)];
    const found: FraudEvent[] = [];
    for (let i = 0; i < ids.length; i += 500) {
      const chunk = ids.slice(i, i + 500);
      found.push(
        ...this.db
          .prepare<unknown[], FraudEventReviewedRow>(devicePacketsSql(chunk.length))
          .all(deviceId, ...chunk)
          .map((row) => this.toEvent(row)),
      );
    }
    return found;
  }

  async addReview(eventId: string, review: FraudReview): Promise<ReviewOutcome | undefined> {
    const add = (): ReviewOutcome | undefined => {
      const row = this.findEvent.get(eventId);
      if (!row) return undefined;
      const event = this.toEvent(row);
      const { rows } = this.historyOf(event);
      // a review would chain onto the changed rows and tag the event as the server's own
      if (event.integrity === 'tampered') throw new FraudEventTamperedError(eventId);
      if (row.review_decision === review.decision && row.review_reason === review.reason) {
        return { event, recorded: false };
      }
      const seq = (rows[rows.length - 1]?.seq ?? 0) + 1;
      const previous = rows[rows.length - 1]?.tag ?? null;
      const reviewRow = Mapper.reviewToPersistence(
        eventId,
        seq,
        review,
        this.seal?.reviewTag(eventId, seq, review, previous) ?? null,
      );
      this.insertReview.run(reviewRow);
      // a legacy event stays legacy: a review vouches for nothing it held before the upgrade
      const eventTag =
        this.seal?.eventTag({ ...event, review }, event.integrity === 'legacy') ?? null;
      this.setCurrentReview.run({ ...reviewRow, event_tag: eventTag });
      return { event: this.toEvent(this.findEvent.get(eventId)!), recorded: true };
    };
    // read, compare and write in one immediate transaction: two reviews at once are one
    // after the other, and a retry of the latest records nothing
    return this.turns.write(() => this.db.transaction(add).immediate());
  }

  async retagPage(
    after: string,
    limit: number,
    except: readonly string[] = [],
  ): Promise<RetagOutcome[]> {
    const seal = this.seal;
    if (!seal) throw new Error('retagPage needs the store tags (FraudSeal)');
    const page = this.db.prepare<[string, number], { id: string }>(RETAG_PAGE_SQL);
    const ids = page.all(after, limit).map((r) => r.id);
    const outcomes = new Map<string, RetagOutcome>();
    let pending = ids;
    for (let attempt = 0; attempt < RETAG_TRIES && pending.length > 0; attempt++) {
      // read in one snapshot (a deferred read transaction): an event and its reviews as of one
      // moment, never a review recorded between the two reads taken for a gap
      const plans = readTransaction(this.db, () =>
        pending.map((id) => ({ id, ...this.retagPlanOf(seal, id, except) })),
      );
      const writes = plans.filter((p) => p.plan?.kind === 'retag');
      for (const p of plans) {
        if (!p.plan) {
          // deleted meanwhile: nothing to re-tag, but an outcome (the page goes on from its id)
          outcomes.set(p.id, { eventId: p.id, result: 'deleted', from: [] });
          continue;
        }
        if (p.plan.kind === 'suspect')
          outcomes.set(p.id, { eventId: p.id, result: 'suspect', from: p.plan.from });
        else if (p.plan.kind !== 'retag')
          outcomes.set(p.id, { eventId: p.id, result: p.plan.kind, from: [] });
      }
      // each event's tags compared and set in one savepoint of one write transaction: a row
      // changed since the read (a review recorded, a tag rewritten) misses, and is read again
      const missed = new Set<string>();
      if (writes.length > 0) {
        await this.turns.write(() =>
          this.db
            .transaction(() => {
              for (const w of writes) {
                try {
                  // nested: a savepoint of the write transaction around it (the mode names the outer one)
                  this.db.transaction(() => this.retagWrite(w)).immediate();
                  const from = (w.plan as Extract<RetagPlan, { kind: 'retag' }>).from;
                  outcomes.set(w.id, { eventId: w.id, result: 'retagged', from });
                } catch (error) {
                  if (!(error instanceof RetagMissed)) throw error;
                  missed.add(w.id);
                  const from = (w.plan as Extract<RetagPlan, { kind: 'retag' }>).from;
                  outcomes.set(w.id, { eventId: w.id, result: 'changed', from });
                }
              }
            })
            .immediate(),
        );
      }
      pending = [...missed];
    }
    return ids.filter((id) => outcomes.has(id)).map((id) => outcomes.get(id)!);
  }

  /** The event's re-tagging, checked as `findWithReviews` checks it (undefined: no such event). */
  private retagPlanOf(
    seal: FraudSeal,
    id: string,
    except: readonly string[],
  ): { plan?: RetagPlan; eventTag?: unknown; rows?: FraudReviewRow[] } {
    const row = this.findEvent.get(id);
    if (!row) return {};
    const event = this.toEvent(row);
    const { reviews, rows } = this.historyOf(event);
    return {
      plan: seal.retagPlan(
        event,
        row.tag,
        reviews,
        rows.map((r) => r.tag),
        except,
      ),
      eventTag: row.tag,
      rows,
    };
  }

  /** One event's new tags, each set only over the tag as read (throws RetagMissed otherwise). */
  private retagWrite(w: {
    id: string;
    plan?: RetagPlan;
    eventTag?: unknown;
    rows?: FraudReviewRow[];
  }) {
    const plan = w.plan as Extract<RetagPlan, { kind: 'retag' }>;
    // the event's tag changes with every review recorded: compared even when it is kept, so a
    // review chained meanwhile onto the old tags is never left behind a re-tagged history
    const event = this.db
      .prepare('UPDATE fraud_events SET tag = ? WHERE id = ? AND tag = ?')
      .run(plan.eventTag, w.id, w.eventTag);
    if (event.changes !== 1) throw new RetagMissed();
    const review = this.db.prepare(
      'UPDATE fraud_event_reviews SET tag = ? WHERE id = ? AND event_id = ? AND seq = ? AND tag = ?',
    );
    w.rows!.forEach((r, i) => {
      if (plan.reviewTags[i] === r.tag) return;
      if (review.run(plan.reviewTags[i], r.id, w.id, r.seq, r.tag).changes !== 1)
        throw new RetagMissed();
    });
  }

  async findWithReviews(
    eventId: string,
  ): Promise<{ event: FraudEvent; reviews: FraudReview[] } | undefined> {
    const row = this.findEvent.get(eventId);
    if (!row) return undefined;
    const event = this.toEvent(row);
    return { event, reviews: this.historyOf(event).reviews };
  }

  async listRecent(criteria: FraudEventCriteria): Promise<FraudEvent[]> {
    const { sql, params, limit } = fraudEventListQuery(criteria);
    return this.listings.all(sql, params, limit).map((row) => this.toEvent(row));
  }
}

/** Rows in (at, id) order, newest first (the listing's order). */
function newestFirst(a: { at: string; id: string }, b: { at: string; id: string }): number {
  if (a.at !== b.at) return a.at < b.at ? 1 : -1;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

/** How many times `retagPage` reads an event again whose write missed. */
const RETAG_TRIES = 5;

/** A compare-and-set of `retagPage` that found the row changed since it was read. */
class RetagMissed extends Error {}

/**
 * The id of the event's last review in its history (NULL without one): a listed row whose
 * current review is not it was put back to an earlier state (the event row with its old tag,
 * the later reviews kept), so the listing reads it as tampered as the detail does. One seek of
 * the UNIQUE (event_id, seq) index a listed row.
 */
const LAST_REVIEW_ID = `(SELECT r.id FROM fraud_event_reviews r WHERE r.event_id = fraud_events.id
    ORDER BY r.seq DESC LIMIT 1) AS last_review_id`;

/**
 * A page of the legacy tagging: untagged events after an id, in id order (the primary key's
 * index: each page seeks where the last ended). Exported for the query-plan test.
 */
export const LEGACY_PAGE_SQL =
  'SELECT * FROM fraud_events WHERE id > ? AND tag IS NULL ORDER BY id LIMIT 1000';

/**
 * The events of a site's refused punches claimed in [from, to): one range seek of the partial
 * index `fraud_events_site_punch` (fraud migration 11), each row read for its tag. Exported for
 * the query-plan test.
 */
export const REFUSED_PUNCHES_SQL = `SELECT *, ${LAST_REVIEW_ID} FROM fraud_events
  WHERE site_id = ? AND punch_at IS NOT NULL AND punch_at >= ? AND punch_at < ?`;

/**
 * A page of `keys:retag`: event ids after an id, in id order (the primary key's index: each
 * page seeks where the last ended). Exported for the query-plan test.
 */
export const RETAG_PAGE_SQL = 'SELECT id FROM fraud_events WHERE id > ? ORDER BY id LIMIT ?';

/**
 * A device's events of one type that weigh on its trust (`FraudEventRepository.weighingHistories`,
 * once per weighing type in `weighingSql`): the whole row, its tag checked (review M2: the covered read of
 * type and time counted rows written straight into the database), and its last review's id as a
 * listing reads it. It seeks the partial index `fraud_events_weighing_type` (device_id, type,
 * at, id) and reads the table for each row it returns; per type, so one type's flood cannot
 * push another's events out of the read. Exported for the query-plan test.
 */
export const WEIGHING_SQL = `SELECT *, ${LAST_REVIEW_ID} FROM fraud_events
  WHERE device_id = @deviceId AND type = @type AND at >= @from AND at <= @to
    AND review_decision IS NOT 'dismissed' AND type <> 'device_blocked'
  ORDER BY at DESC, id DESC LIMIT @limit`;

/**
 * A device's whole weighing history in one statement: WEIGHING_SQL for each weighing type, the
 * type and the bound written in, joined by `UNION ALL` (parameters @deviceId, @from, @to; rows
 * unordered across the types). The same seeks as one statement a type, one statement run: a
 * `?trust=live` page of 100 devices made 1,800 runs, now 100 (docs/benchmarks.md, "weighpage").
 * Exported for the query-plan test.
 */
export function weighingSql(perType: number): string {
  if (!Number.isSafeInteger(perType) || perType < 1) throw new Error(`bad bound ${perType}`);
  return WEIGHING_EVENT_TYPES.map((type) => {
    // a constant of the domain, written in as a literal
    if (!/^[a-z_]+$/.test(type)) throw new Error(`not a fraud event type: ${type}`);
    const part = WEIGHING_SQL.replace('@type', `'${type}'`).replace('@limit', String(perType));
    return `SELECT * FROM (${part})`;
  }).join('\nUNION ALL\n');
}

/**
 * The listing as one statement that seeks an index (column, at, id) in both its filter and
 * its order (the review filter seeks (review_decision, at, id)): the keyset is a row value
 * `(at, id) < (?, ?)`, which SQLite uses as an index bound (the `at < ? OR (at = ? AND
 * id < ?)` form is not), so any page costs the same and a
 * walk through all pages is linear. SQLite uses one upper bound on `at` in the index, so of
 * `to` and the cursor only the tighter one is written (the other is then implied).
 * `params` are all but the limit (`LimitedStatements` writes the limit into the SQL).
 * Exported for the query-plan test.
 */
export function fraudEventListQuery(criteria: FraudEventCriteria): {
  sql: string;
  params: string[];
  limit: number;
} {
  const where: string[] = [];
  const params: string[] = [];
  const equal: [string, string | undefined][] = [
    ['type', criteria.type],
    ['device_id', criteria.deviceId],
    ['worker_id', criteria.workerId],
    ['site_id', criteria.siteId],
  ];
  for (const [column, value] of equal) {
    if (value === undefined) continue;
    where.push(`${column} = ?`);
    params.push(value);
  }
  // unreviewed is NULL: `IS NULL` seeks the review index as `= ?` does
  if (criteria.review === 'unreviewed') where.push('review_decision IS NULL');
  else if (criteria.review !== undefined) {
    where.push('review_decision = ?');
    params.push(criteria.review);
  }
  // a filter on the rows the chosen index finds (the trust history seeks the device's index)
  if (criteria.excludeDismissed) where.push("review_decision IS NOT 'dismissed'");
  if (criteria.from) {
    where.push('at >= ?');
    params.push(criteria.from.toISOString());
  }
  const to = criteria.to?.toISOString();
  const before = criteria.before && {
    at: criteria.before.at.toISOString(),
    id: criteria.before.id,
  };
  if (before && (to === undefined || before.at <= to)) {
    // every row before the cursor is at or before before.at, so also at or before `to`
    where.push('(at, id) < (?, ?)');
    params.push(before.at, before.id);
  } else if (to !== undefined) {
    // at <= to < before.at: every such row is before the cursor
    where.push('at <= ?');
    params.push(to);
  }
  return {
    sql: `SELECT *, ${LAST_REVIEW_ID} FROM fraud_events ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
         ORDER BY at DESC, id DESC LIMIT ?`,
    params,
    limit: criteria.limit,
  };
}

/**
 * A device's events of `count` packets: one seek per packet in `fraud_events_device_packet`
 * (fraud migration 10; `packet_id IS NOT NULL` lets SQLite take that partial index).
 */
export function devicePacketsSql(count: number): string {
  return `SELECT *, ${LAST_REVIEW_ID} FROM fraud_events
    WHERE device_id = ? AND packet_id IS NOT NULL AND packet_id IN (${Array(count).fill('?').join(',')})`;
}
