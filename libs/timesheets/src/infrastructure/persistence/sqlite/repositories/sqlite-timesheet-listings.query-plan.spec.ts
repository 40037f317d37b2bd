import {
  describeLiteralLimitPlans,
  LiteralLimitCase,
} from '@app/persistence/testing/literal-limit-plans';
import { literalLimitPlans } from '@app/persistence/testing/query-plan';
import { DayQuery } from '../../timesheet.repository';
import {
  SqliteTimesheetRepository,
  TIMESHEET_ENTRY_PAGE_SQL,
  timesheetDaysQuery,
} from './sqlite-timesheet.repository';

/** A page of days as listDays builds it (the statement under test is the one that runs). */
function daysCase(name: string, filter: Partial<DayQuery>): LiteralLimitCase {
  const query = timesheetDaysQuery({
    siteId: 's-1',
    fromDay: '2026-01-01',
    toDay: '2026-01-31',
    limit: 100,
    ...filter,
  });
  if (!query) throw new Error(`${name}: matches nothing`);
  return [name, query.sql, query.args, false];
}

// The timesheet listings as LimitedStatement runs them.
describeLiteralLimitPlans(
  'SqliteTimesheetRepository',
  (store) => new SqliteTimesheetRepository(store), // applies the migrations
  [
    ['entries, after a seq', TIMESHEET_ENTRY_PAGE_SQL, ['s-1', 0], true],
    daysCase('days of a site, first page', {}),
    daysCase('days of a site, after a worker and day', {
      after: { workerId: 'w-1', day: '2026-01-05' },
    }),
    daysCase('days of a crew, first page', { workerIds: ['w-1', 'w-2', 'w-3'] }),
    daysCase('days of a crew, after a worker and day', {
      workerIds: ['w-1', 'w-2'],
      after: { workerId: 'w-1', day: '2026-01-05' },
    }),
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
