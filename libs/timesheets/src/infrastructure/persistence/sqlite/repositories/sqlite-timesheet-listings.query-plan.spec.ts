import { describeLiteralLimitPlans } from '@app/persistence/testing/literal-limit-plans';
import { literalLimitPlans } from '@app/persistence/testing/query-plan';
import { SqliteTimesheetRepository, TIMESHEET_ENTRY_PAGE_SQL } from './sqlite-timesheet.repository';

// The timesheet listings as LimitedStatement runs them.
describeLiteralLimitPlans(
  'SqliteTimesheetRepository',
  (store) => new SqliteTimesheetRepository(store), // applies the migrations
  [
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
  ],
  (db) => {
    it('should tell a plan that changes with a literal limit (why listPending keeps LIMIT ?)', () => {
      const pending = `SELECT site_id AS siteId, worker_id AS workerId, min_at AS min, max_at AS max
       FROM timesheet_pending_days WHERE (site_id > ? OR (site_id = ? AND worker_id > ?))
       ORDER BY site_id, worker_id LIMIT ?`;
      expect(() => literalLimitPlans(db(), pending, ['s-1', 's-1', 'w-1'], [1])).toThrow(
        /planned otherwise/,
      );
    });
  },
);
