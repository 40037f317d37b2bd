import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '@app/persistence';
import { literalLimitPlans, planProblems } from '@app/persistence/testing/query-plan';
import {
  SqliteVaultAuditRepository,
  VAULT_AUDIT_FILE_LIST_SQL,
  VAULT_AUDIT_LIST_SQL,
} from './sqlite-vault-audit.repository';

/**
 * GET /api/vault/audit (all records, or one file's with ?fileId=), first page or after a
 * seq: each page seeks an index, so any page costs the same and a full walk is linear.
 */
describe('SqliteVaultAuditRepository query plans', () => {
  let dir: string;
  let store: SqliteStore;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mdai-audit-plan-'));
    store = new SqliteStore(join(dir, 'plan.sqlite'));
    new SqliteVaultAuditRepository(store); // applies the migrations
  });
  afterAll(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it.each([
    ['all records, first page', VAULT_AUDIT_LIST_SQL, [0], /rowid>\?/],
    ['all records, after a seq', VAULT_AUDIT_LIST_SQL, [500_000], /rowid>\?/],
    ['one file, first page', VAULT_AUDIT_FILE_LIST_SQL, ['f1', 0], /file_id=\? AND seq>\?/],
    ['one file, after a seq', VAULT_AUDIT_FILE_LIST_SQL, ['f1', 9], /file_id=\? AND seq>\?/],
  ])('should seek an index, never scan or sort: %s', (_name, sql, params, seek) => {
    // as LimitedStatement runs it: the limit written into the SQL, at 1, 100 and 1000
    for (const plan of literalLimitPlans(store.db, sql, params)) {
      expect(planProblems(plan)).toEqual([]);
      expect(plan.join(' ')).toMatch(/^SEARCH /);
      expect(plan.join(' ')).toMatch(seek);
    }
  });
});
