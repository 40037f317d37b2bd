import { describeLiteralLimitPlans } from '@app/persistence/testing/literal-limit-plans';
import { explainQueryPlan, planProblems } from '@app/persistence/testing/query-plan';
import {
  ENROLLMENT_REVOKE_SQL,
  SITE_ID_LIST_SQL,
  SITE_LIST_SQL,
  SITE_WORKER_LIST_SQL,
  SqliteWorkforceRepository,
  THEKEDAR_LIST_SQL,
  WORKER_EVENTS_SQL,
  WORKER_LIST_SQL,
  workerListSql,
} from './sqlite-workforce.repository';

// The workforce listings (sites, thekedars, workers) as LimitedStatement runs them.
describeLiteralLimitPlans(
  'SqliteWorkforceRepository',
  (store) => new SqliteWorkforceRepository(store), // applies the migrations
  [
    ['sites, after an id', SITE_LIST_SQL, ['s-1'], true],
    ['site ids, after an id', SITE_ID_LIST_SQL, ['s-1'], true],
    ['thekedars, after an id', THEKEDAR_LIST_SQL, ['t-1'], true],
    ['workers, after an id', WORKER_LIST_SQL, ['w-1'], true],
    // the site filter reads each worker's site_ids along the id order
    ['workers of a site, after an id', SITE_WORKER_LIST_SQL, ['w-1', 's-1'], false],
    // the status filter too: most workers are active, the id order is the page's
    [
      'workers of a status, after an id',
      workerListSql({ site: false, status: true }),
      ['w-1', 'inactive'],
      false,
    ],
    [
      'workers of a site and a status, after an id',
      workerListSql({ site: true, status: true }),
      ['w-1', 's-1', 'inactive'],
      false,
    ],
  ],
  (db) => {
    it("should find a worker's events by worker, not by reading every event", () => {
      const plan = explainQueryPlan(db(), WORKER_EVENTS_SQL, ['w-1']);
      expect(plan.join(' ')).toMatch(/^SEARCH worker_events USING INDEX worker_events_worker/);
    });

    it("should find a worker's unused codes by person, not by reading every code", () => {
      const plan = explainQueryPlan(db(), ENROLLMENT_REVOKE_SQL, ['worker', 'w-1']);
      expect(planProblems(plan)).toEqual([]);
      expect(plan.join(' ')).toMatch(
        /^SEARCH enrollment_codes USING INDEX enrollment_codes_person/,
      );
    });
  },
);
