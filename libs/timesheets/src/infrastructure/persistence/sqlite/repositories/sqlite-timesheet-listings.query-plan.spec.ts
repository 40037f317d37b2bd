import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '@app/persistence';
import { literalLimitPlans, planProblems } from '@app/persistence/testing/query-plan';
import { SqliteTimesheetRepository, TIMESHEET_ENTRY_PAGE_SQL } from './sqlite-timesheet.repository';

/**
 * The timesheet listings as LimitedStatement runs them (the limit written into the SQL, at 1, 100 and
 * 1000): the plan SQLite makes with the limit bound, and a keyset page seeks its index.
 */
describe('SqliteTimesheetRepository query plans (literal limits)', () => {
  let dir: string;
  let store: SqliteStore;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mdai-listlimit-plan-'));
    store = new SqliteStore(join(dir, 'plan.sqlite'));
    new SqliteTimesheetRepository(store); // applies the migrations
  });
  afterAll(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it.each<[string, string, unknown[], boolean]>([
    ['entries, after a seq', TIMESHEET_ENTRY_PAGE_SQL, ['s-1', 0], true],
    [
      'days of a site, after a worker and day',
      `SELECT body FROM timesheet_days WHERE site_id = ? AND day >= ? AND day <= ?
       AND (worker_id > ? OR (worker_id = ? AND day > ?)) ORDER BY worker_id, day LIMIT ?`,
      ['s-1', '2026-01-01', '2026-01-31', 'w-1', 'w-1', '2026-01-05'],
      false,
    ],
    [
      'days of a crew, first page',
      `SELECT body FROM timesheet_days WHERE site_id = ? AND day >= ? AND day <= ?
       AND worker_id IN (?,?,?) ORDER BY worker_id, day LIMIT ?`,
      ['s-1', '2026-01-01', '2026-01-31', 'w-1', 'w-2', 'w-3'],
      false,
    ],
  ])('should plan %s as with a bound limit', (_name, sql, params, seeks) => {
    for (const plan of literalLimitPlans(store.db, sql, params)) {
      expect(plan.length).toBeGreaterThan(0);
      if (seeks) {
        expect(planProblems(plan)).toEqual([]);
        expect(plan.join(' ')).toMatch(/^SEARCH /);
      }
    }
  });

  it('should tell a plan that changes with a literal limit (why listPending keeps LIMIT ?)', () => {
    const pending = `SELECT site_id AS siteId, worker_id AS workerId, min_at AS min, max_at AS max
       FROM timesheet_pending_days WHERE (site_id > ? OR (site_id = ? AND worker_id > ?))
       ORDER BY site_id, worker_id LIMIT ?`;
    expect(() => literalLimitPlans(store.db, pending, ['s-1', 's-1', 'w-1'], [1])).toThrow(
      /planned otherwise/,
    );
  });
});
