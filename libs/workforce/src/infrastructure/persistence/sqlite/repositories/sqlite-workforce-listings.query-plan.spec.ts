import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '@app/persistence';
import { literalLimitPlans, planProblems } from '@app/persistence/testing/query-plan';
import {
  SITE_ID_LIST_SQL,
  SITE_LIST_SQL,
  SITE_WORKER_LIST_SQL,
  SqliteWorkforceRepository,
  THEKEDAR_LIST_SQL,
  WORKER_LIST_SQL,
} from './sqlite-workforce.repository';

/**
 * The workforce listings (sites, thekedars, workers) as LimitedStatement runs them (the limit written into the SQL, at 1, 100 and
 * 1000): the plan SQLite makes with the limit bound, and a keyset page seeks its index.
 */
describe('SqliteWorkforceRepository query plans (literal limits)', () => {
  let dir: string;
  let store: SqliteStore;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mdai-listlimit-plan-'));
    store = new SqliteStore(join(dir, 'plan.sqlite'));
    new SqliteWorkforceRepository(store); // applies the migrations
  });
  afterAll(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it.each<[string, string, unknown[], boolean]>([
    ['sites, after an id', SITE_LIST_SQL, ['s-1'], true],
    ['site ids, after an id', SITE_ID_LIST_SQL, ['s-1'], true],
    ['thekedars, after an id', THEKEDAR_LIST_SQL, ['t-1'], true],
    ['workers, after an id', WORKER_LIST_SQL, ['w-1'], true],
    // the site filter reads each worker's site_ids along the id order
    ['workers of a site, after an id', SITE_WORKER_LIST_SQL, ['w-1', 's-1'], false],
  ])('should plan %s as with a bound limit', (_name, sql, params, seeks) => {
    for (const plan of literalLimitPlans(store.db, sql, params)) {
      expect(plan.length).toBeGreaterThan(0);
      if (seeks) {
        expect(planProblems(plan)).toEqual([]);
        expect(plan.join(' ')).toMatch(/^SEARCH /);
      }
    }
  });
});
