import { Injectable } from '@nestjs/common';
import type { Database, Statement } from 'better-sqlite3';
import {
  LimitedStatement,
  LimitedStatements,
  SqliteStoreHandle,
  SqliteWriteTurns,
} from '@app/persistence';
import {
  FraudEvent,
  FraudEventCriteria,
  FraudEventType,
  FraudReview,
  FraudWeight,
} from '../../../../domain/fraud-event';
import { FraudEventRepository, ReviewOutcome } from '../../fraud-event.repository';
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
  private readonly lastSeq: Statement<[string], { seq: number | null }>;
  private readonly insertReview: Statement;
  private readonly setCurrentReview: Statement;
  /**
   * Prepared per filter shape (16 column filters x 3 review filters x 2 `from` x 3 upper
   * bounds, and the trust history's) and page size, the limit written into the SQL.
   */
  private readonly listings: LimitedStatements<FraudEventReviewedRow>;
  /** A device's weighing events, newest first: the (device_id, at, id) index in its order. */
  private readonly weighing: LimitedStatement<[string, string, string], [string, string]>;

  constructor(store: SqliteStoreHandle) {
    super();
    store.migrate('fraud', FRAUD_SQLITE_MIGRATIONS);
    this.db = store.db;
    this.turns = store.writeTurns;
    this.listings = new LimitedStatements(this.db, 16 * 3 * 2 * 3 + 1);
    this.weighing = new LimitedStatement(this.db, WEIGHING_SQL, { raw: true });
    this.insert = this.db.prepare(
      `INSERT INTO fraud_events (id, type, device_id, worker_id, site_id, packet_id, detail, at)
       VALUES (@id, @type, @device_id, @worker_id, @site_id, @packet_id, @detail, @at)`,
    );
    this.findEvent = this.db.prepare<[string], FraudEventReviewedRow>(
      'SELECT * FROM fraud_events WHERE id = ?',
    );
    this.reviewsOf = this.db.prepare<[string], FraudReviewRow>(
      'SELECT * FROM fraud_event_reviews WHERE event_id = ? ORDER BY seq',
    );
    this.lastSeq = this.db.prepare<[string], { seq: number | null }>(
      'SELECT MAX(seq) AS seq FROM fraud_event_reviews WHERE event_id = ?',
    );
    this.insertReview = this.db.prepare(
      `INSERT INTO fraud_event_reviews (id, event_id, seq, decision, reason, actor, at)
       VALUES (@id, @event_id, @seq, @decision, @reason, @actor, @at)`,
    );
    this.setCurrentReview = this.db.prepare(
      `UPDATE fraud_events SET review_id = @id, review_decision = @decision,
         review_reason = @reason, review_by = @actor, review_at = @at
       WHERE id = @event_id`,
    );
  }

  async recordAll(events: FraudEvent[]): Promise<void> {
    if (events.length === 0) return;
    await this.turns.write(
      this.db.transaction(() => {
        for (const event of events) this.insert.run(Mapper.toPersistence(event));
      }),
    );
  }

  async weighingHistories(
    deviceIds: readonly string[],
    from: Date,
    to: Date,
    perDevice: number,
  ): Promise<Map<string, FraudWeight[]>> {
    const found = new Map<string, FraudWeight[]>();
    const range = [from.toISOString(), to.toISOString()] as const;
    // one read transaction: every device of the page as of one moment
    this.db.transaction(() => {
      for (const deviceId of new Set(deviceIds)) {
        const rows = this.weighing.all([deviceId, ...range], perDevice);
        if (rows.length === 0) continue;
        found.set(
          deviceId,
          rows.map(([type, at]) => ({ type: type as FraudEventType, at: new Date(at) })),
        );
      }
    })();
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
            `SELECT * FROM fraud_events WHERE packet_id IN (${chunk.map(() => '?').join(',')})
             ORDER BY at, id LIMIT ?`,
          )
          .all(...chunk, limit - found.length)
          .map(Mapper.toDomain),
      );
    }
    return found;
  }

  async addReview(eventId: string, review: FraudReview): Promise<ReviewOutcome | undefined> {
    const add = (): ReviewOutcome | undefined => {
      const row = this.findEvent.get(eventId);
      if (!row) return undefined;
      if (row.review_decision === review.decision && row.review_reason === review.reason) {
        return { event: Mapper.toDomain(row), recorded: false };
      }
      const seq = (this.lastSeq.get(eventId)?.seq ?? 0) + 1;
      const reviewRow = Mapper.reviewToPersistence(eventId, seq, review);
      this.insertReview.run(reviewRow);
      this.setCurrentReview.run(reviewRow);
      return { event: Mapper.toDomain(this.findEvent.get(eventId)!), recorded: true };
    };
    // read, compare and write in one immediate transaction: two reviews at once are one
    // after the other, and a retry of the latest records nothing
    return this.turns.write(() => this.db.transaction(add).immediate());
  }

  async findWithReviews(
    eventId: string,
  ): Promise<{ event: FraudEvent; reviews: FraudReview[] } | undefined> {
    const row = this.findEvent.get(eventId);
    if (!row) return undefined;
    return {
      event: Mapper.toDomain(row),
      reviews: this.reviewsOf.all(eventId).map(Mapper.reviewToDomain),
    };
  }

  async listRecent(criteria: FraudEventCriteria): Promise<FraudEvent[]> {
    const { sql, params, limit } = fraudEventListQuery(criteria);
    return this.listings.all(sql, params, limit).map(Mapper.toDomain);
  }
}

/**
 * A device's events that weigh on its trust (`FraudEventRepository.weighingHistories`).
 * Exported for the query-plan test.
 */
export const WEIGHING_SQL = `SELECT type, at FROM fraud_events
  WHERE device_id = ? AND at >= ? AND at <= ? AND review_decision IS NOT 'dismissed'
    AND type <> 'device_blocked'
  ORDER BY at DESC, id DESC LIMIT ?`;

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
    sql: `SELECT * FROM fraud_events ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
         ORDER BY at DESC, id DESC LIMIT ?`,
    params,
    limit: criteria.limit,
  };
}
