import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '@app/persistence';
import { literalLimitPlans, planProblems } from '@app/persistence/testing/query-plan';
import {
  SqliteVaultFileRepository,
  VAULT_FILES_LIVE_CREATED_BEFORE_SQL,
  VAULT_FILES_LIVE_NOT_WRAPPED_BY_SQL,
} from './sqlite-vault-file.repository';

/**
 * The shred and reseal jobs' pages as LimitedStatement runs them (the limit written into the SQL, at 1, 100 and
 * 1000): the plan SQLite makes with the limit bound, and a keyset page seeks its index.
 */
describe('SqliteVaultFileRepository query plans (literal limits)', () => {
  let dir: string;
  let store: SqliteStore;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mdai-listlimit-plan-'));
    store = new SqliteStore(join(dir, 'plan.sqlite'));
    new SqliteVaultFileRepository(store); // applies the migrations
  });
  afterAll(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it.each<[string, string, unknown[], boolean]>([
    ['live files created before', VAULT_FILES_LIVE_CREATED_BEFORE_SQL, ['2026-01-01'], false],
    ['live files not wrapped by', VAULT_FILES_LIVE_NOT_WRAPPED_BY_SQL, ['v2'], false],
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
