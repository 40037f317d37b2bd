import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Database } from 'better-sqlite3';
import { SqliteStore } from '../sqlite/sqlite-store';
import { literalLimitPlans, planProblems } from './query-plan';

/**
 * One listing as `LimitedStatement` runs it: a name, its SQL (ending in `LIMIT ?`), its
 * parameters but the limit, and whether a keyset page must seek its index.
 */
export type LiteralLimitCase = [name: string, sql: string, params: unknown[], seeks: boolean];

/**
 * A spec block over a fresh SQLite file that `migrate` gives a repository's schema: each case
 * is planned with the limit written into the SQL (at 1, 100 and 1000), that plan must be the
 * one SQLite makes with the limit bound, and a seeking case's plan must search its index.
 * `more` adds cases of the file's own on the same database.
 */
export function describeLiteralLimitPlans(
  subject: string,
  migrate: (store: SqliteStore) => unknown,
  cases: LiteralLimitCase[],
  more?: (db: () => Database) => void,
): void {
  describe(`${subject} query plans (literal limits)`, () => {
    let dir: string;
    let store: SqliteStore;

    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'mdai-listlimit-plan-'));
      store = new SqliteStore(join(dir, 'plan.sqlite'));
      migrate(store);
    });
    afterAll(async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it.each<LiteralLimitCase>(cases)(
      'should plan %s as with a bound limit',
      (_name, sql, params, seeks) => {
        for (const plan of literalLimitPlans(store.db, sql, params)) {
          expect(plan.length).toBeGreaterThan(0);
          if (seeks) {
            expect(planProblems(plan)).toEqual([]);
            expect(plan.join(' ')).toMatch(/^SEARCH /);
          }
        }
      },
    );

    more?.(() => store.db);
  });
}
