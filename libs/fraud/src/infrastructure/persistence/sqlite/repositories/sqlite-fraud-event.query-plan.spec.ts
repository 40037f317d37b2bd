import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '@app/persistence';
import {
  explainQueryPlan,
  literalLimitPlans,
  planProblems,
} from '@app/persistence/testing/query-plan';
import {
  FRAUD_EVENT_TYPES,
  FRAUD_REVIEW_STATES,
  FraudEventCriteria,
  WEIGHING_EVENT_TYPES,
} from '../../../../domain/fraud-event';
import {
  fraudEventListQuery,
  LEGACY_PAGE_SQL,
  REFUSED_PUNCHES_SQL,
  RETAG_PAGE_SQL,
  SqliteFraudEventRepository,
  WEIGHING_SQL,
  weighingSql,
} from './sqlite-fraud-event.repository';

/** Every documented filter of GET /api/v5/fraud/events, alone and combined. */
const FILTERS: Array<[string, Partial<FraudEventCriteria>]> = [
  ['type', { type: FRAUD_EVENT_TYPES[0] }],
  ['deviceId', { deviceId: 'dev-1' }],
  ['workerId', { workerId: 'wrk-1' }],
  ['siteId', { siteId: 'site-1' }],
  ['from', { from: new Date('2026-01-01T00:00:00Z') }],
  ['to', { to: new Date('2026-02-01T00:00:00Z') }],
];
/** `?review=`: none, or each state (unreviewed is `IS NULL`, the decisions `= ?`). */
const REVIEWS: Array<[string, Partial<FraudEventCriteria>]> = [
  ['', {}],
  ...FRAUD_REVIEW_STATES.map((review): [string, Partial<FraudEventCriteria>] => [
    `review=${review}`,
    { review },
  ]),
];
const CURSORS: Array<[string, FraudEventCriteria['before']]> = [
  ['first page', undefined],
  ['a page before `to`', { at: new Date('2026-01-15T00:00:00Z'), id: 'a'.repeat(24) }],
  ['a page after `to`', { at: new Date('2026-03-01T00:00:00Z'), id: 'a'.repeat(24) }],
];

function combinations(): Array<[string, FraudEventCriteria]> {
  const out: Array<[string, FraudEventCriteria]> = [];
  for (let mask = 0; mask < 1 << FILTERS.length; mask++) {
    for (const review of REVIEWS) {
      const picked = [...FILTERS.filter((_, i) => mask & (1 << i)), review];
      for (const [cursorName, before] of CURSORS) {
        // the planner reads a literal limit: the smallest, the default and the largest page
        for (const limit of [1, 100, 1000]) {
          const criteria: FraudEventCriteria = { limit, before };
          for (const [, filter] of picked) Object.assign(criteria, filter);
          const name =
            picked
              .map(([n]) => n)
              .filter(Boolean)
              .join('+') || 'no filter';
          out.push([`${name}, ${cursorName}, limit ${limit}`, criteria]);
        }
      }
    }
  }
  return out;
}

describe('SqliteFraudEventRepository query plans', () => {
  let dir: string;
  let store: SqliteStore;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mdai-fraud-plan-'));
    store = new SqliteStore(join(dir, 'plan.sqlite'));
    new SqliteFraudEventRepository(store); // applies the migrations
  });
  afterAll(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it.each(combinations())('should seek an index, never scan or sort: %s', (_name, criteria) => {
    // the statement the repository runs: the limit written into the SQL (LimitedStatements)
    const { sql, params, limit } = fraudEventListQuery(criteria);
    const [plan] = literalLimitPlans(store.db, sql, params, [limit]);
    // (the last review's subquery has a WHERE of its own)
    const unfilteredFirstPage = !/FROM fraud_events\s+WHERE/.test(sql);
    expect(planProblems(plan, unfilteredFirstPage ? 'fraud_events_at_id' : undefined)).toEqual([]);
    // each listed row's last review: one seek of the UNIQUE (event_id, seq) index
    expect(plan.join(' ')).toMatch(
      /CORRELATED SCALAR SUBQUERY.*SEARCH r USING (COVERING )?INDEX sqlite_autoindex_fraud_event_reviews_\d \(event_id=\?\)/,
    );
    if (criteria.before) {
      // the cursor (or the tighter `to`) bounds the index range: a deep page starts where it is
      expect(plan.join(' ')).toMatch(/SEARCH fraud_events USING INDEX \w+ \(.*(\(at,id\)<|at<)/);
    }
  });

  it("should seek the device's weighing index per type for its trust history (dismissed events and refused syncs left out), never sort, its rows read for their tags, in one statement", () => {
    expect(WEIGHING_SQL).toContain("review_decision IS NOT 'dismissed'");
    expect(WEIGHING_SQL).toContain("type <> 'device_blocked'");
    const params = {
      deviceId: 'dev-1',
      from: '2026-01-01T00:00:00.000Z',
      to: '2026-02-01T00:00:00.000Z',
    };
    for (const perType of [1, 100, 1000]) {
      const sql = weighingSql(perType);
      for (const type of WEIGHING_EVENT_TYPES) expect(sql).toContain(`type = '${type}'`);
      const plan = explainQueryPlan(store.db, sql, [params]);
      // a part's rows are read from its co-routine (at most perType): not a scan of a table
      expect(planProblems(plan.filter((step) => !/^SCAN \(subquery-\d+\)$/.test(step)))).toEqual(
        [],
      );
      // one seek per type: the type is in the index, before the time
      const seeks = plan.filter((step) =>
        /^SEARCH fraud_events USING INDEX fraud_events_weighing_type \(device_id=\? AND type=\? AND at>\? AND at<\?\)$/.test(
          step,
        ),
      );
      expect(seeks).toHaveLength(WEIGHING_EVENT_TYPES.length);
    }
  });

  it('should page the legacy tagging by id, each page seeking where the last ended (never rescanning)', () => {
    const plan = explainQueryPlan(store.db, LEGACY_PAGE_SQL, ['a'.repeat(24)]);
    expect(planProblems(plan)).toEqual([]);
    expect(plan.join(' ')).toMatch(/SEARCH fraud_events USING INDEX \w+ \(id>\?\)/);
  });

  it('should page keys:retag by id, each page seeking where the last ended', () => {
    const plan = explainQueryPlan(store.db, RETAG_PAGE_SQL, ['a'.repeat(24), 1000]);
    expect(planProblems(plan)).toEqual([]);
    expect(plan.join(' ')).toMatch(/SEARCH fraud_events USING (COVERING )?INDEX \w+ \(id>\?\)/);
  });

  it("should seek a worker's events of one type by both, its first page by both and its time (a worker's refused punches)", () => {
    for (const before of [
      undefined,
      { at: new Date('2026-10-20T00:00:00Z'), id: 'a'.repeat(24) },
    ]) {
      const { sql, params } = fraudEventListQuery({
        workerId: 'wrk-1',
        type: 'timestamp_too_old',
        from: new Date('2026-10-01T00:00:00Z'),
        before,
        limit: 100,
      });
      const [plan] = literalLimitPlans(store.db, sql, params, [100]);
      expect(planProblems(plan)).toEqual([]);
      // a later page: SQLite takes the worker's (worker_id, at, id) for the keyset, a seek too
      if (before) continue;
      expect(plan.join(' ')).toMatch(
        /SEARCH fraud_events USING INDEX fraud_events_worker_type_at_id \(worker_id=\? AND type=\? AND /,
      );
    }
  });

  it("should count a period's refused punches of a site by one range seek of their partial index", () => {
    const plan = explainQueryPlan(store.db, REFUSED_PUNCHES_SQL, [
      'site-1',
      '2026-09-30T18:30:00.000Z',
      '2026-10-31T18:30:00.000Z',
    ]);
    expect(planProblems(plan)).toEqual([]);
    expect(plan.join(' ')).toMatch(
      /SEARCH fraud_events USING INDEX fraud_events_site_punch \(site_id=\? AND punch_at>\? AND punch_at<\?\)/,
    );
  });

  it('should seek the review index for a review filter alone', () => {
    for (const review of FRAUD_REVIEW_STATES) {
      const { sql, params } = fraudEventListQuery({ review, limit: 100 });
      const [plan] = literalLimitPlans(store.db, sql, params, [100]);
      expect(plan.join(' ')).toMatch(
        /SEARCH fraud_events USING INDEX fraud_events_review_at_id \(review_decision=\?\)/,
      );
    }
  });

  it('should flag a listing that scans (the check itself can fail)', () => {
    const plan = explainQueryPlan(
      store.db,
      'SELECT * FROM fraud_events WHERE detail = ? ORDER BY packet_id LIMIT 1',
      ['x'],
    );
    expect(planProblems(plan)).not.toEqual([]);
  });
});
