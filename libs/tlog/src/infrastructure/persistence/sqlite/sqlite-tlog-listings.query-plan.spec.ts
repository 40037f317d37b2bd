import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '@app/persistence';
import { literalLimitPlans, planProblems } from '@app/persistence/testing/query-plan';
import { SqliteTlogRepository, TLOG_CHECKPOINT_PAGE_SQL } from './sqlite-tlog.repository';

/**
 * The checkpoint listing as LimitedStatement runs them (the limit written into the SQL, at 1, 100 and
 * 1000): the plan SQLite makes with the limit bound, and a keyset page seeks its index.
 */
describe('SqliteTlogRepository query plans (literal limits)', () => {
  let dir: string;
  let store: SqliteStore;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mdai-listlimit-plan-'));
    store = new SqliteStore(join(dir, 'plan.sqlite'));
    new SqliteTlogRepository(store); // applies the migrations
  });
  afterAll(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it.each<[string, string, unknown[], boolean]>([
    ['checkpoints, after a size', TLOG_CHECKPOINT_PAGE_SQL, [1, 0], true],
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
