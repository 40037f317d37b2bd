import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '@app/persistence';
import { literalLimitPlans, planProblems } from '@app/persistence/testing/query-plan';
import { VaultAuditCriteria } from '../../vault-audit.repository';
import { SqliteVaultAuditRepository, vaultAuditListQuery } from './sqlite-vault-audit.repository';

/** Every documented filter of GET /api/v5/vault/audit. */
const FILTERS: Array<[string, Partial<VaultAuditCriteria>]> = [
  ['fileId', { fileId: 'f1' }],
  ['actor', { actor: 'auditor:3f2a9c1b0d4e' }],
  ['action', { action: 'read' }],
  ['result', { result: 'denied' }],
];

/** Each filter alone and combined, on the first page and after a seq. */
function combinations(): Array<[string, VaultAuditCriteria]> {
  const out: Array<[string, VaultAuditCriteria]> = [];
  for (let mask = 0; mask < 1 << FILTERS.length; mask++) {
    const picked = FILTERS.filter((_, i) => mask & (1 << i));
    const name = picked.map(([n]) => n).join('+') || 'no filter';
    for (const [page, afterSeq] of [
      ['first page', undefined],
      ['after a seq', 500_000],
    ] as const) {
      const criteria: VaultAuditCriteria = { limit: 100, afterSeq };
      for (const [, filter] of picked) Object.assign(criteria, filter);
      out.push([`${name}, ${page}`, criteria]);
    }
  }
  return out;
}

/**
 * GET /api/v5/vault/audit, any filter, first page or after a seq: each page seeks the primary
 * key or an index on (column, seq), so any page costs the same and a full walk is linear.
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

  it.each(combinations())('should seek an index, never scan or sort: %s', (_name, criteria) => {
    const { sql, params } = vaultAuditListQuery(criteria);
    // as LimitedStatements run it: the limit written into the SQL, at 1, 100 and 1000
    for (const plan of literalLimitPlans(store.db, sql, params)) {
      expect(planProblems(plan)).toEqual([]);
      expect(plan.join(' ')).toMatch(/^SEARCH /);
      const filtered = FILTERS.some(([name]) => name in criteria);
      expect(plan.join(' ')).toMatch(
        filtered ? /USING INDEX vault_audit_\w+ \(\w+=\? AND seq>\?\)/ : /rowid>\?/,
      );
    }
  });
});
