import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '@app/persistence';
import {
  explainQueryPlan,
  literalLimitPlans,
  planProblems,
} from '@app/persistence/testing/query-plan';
import { VAULT_ACTIONS, VAULT_RESULTS } from '../../../../domain/vault-audit-record';
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

/** The index columns a page with these filters must seek: the filters, action and result. */
function soughtColumns(criteria: VaultAuditCriteria): string {
  const columns = [
    ...(criteria.fileId !== undefined ? ['file_id'] : []),
    ...(criteria.actor !== undefined ? ['actor'] : []),
    'action',
    'result',
  ];
  return `${columns.map((c) => `${c}=?`).join(' AND ')} AND seq>?`;
}

/**
 * GET /api/v5/vault/audit, any filter combination, first page or after a seq: each page seeks
 * the primary key, or an index whose prefix holds every filter given (an action or result not
 * given sought value by value, the seeks merged by seq), so a rare combination inside common
 * values costs a page, not the range of one filter; a full walk is linear.
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
      const reads = plan.filter((step) => /^(SEARCH|SCAN) /.test(step));
      const filtered = FILTERS.some(([name]) => name in criteria);
      if (!filtered) {
        expect(reads).toEqual([expect.stringMatching(/rowid>\?/)]);
        continue;
      }
      // one seek per (action, result) the filters leave open, each on every filter given
      const seeks =
        (criteria.action === undefined ? VAULT_ACTIONS.length : 1) *
        (criteria.result === undefined ? VAULT_RESULTS.length : 1);
      expect(reads).toHaveLength(seeks);
      for (const read of reads) {
        expect(read).toMatch(/^SEARCH vault_audit USING INDEX vault_audit_\w+ \(/);
        expect(read.slice(read.indexOf('(') + 1, -1)).toBe(soughtColumns(criteria));
      }
    }
  });

  // each pair of filters, the case the one-column indexes left to a scan of one filter's range
  it.each(combinations().filter(([name]) => name.split('+').length === 2))(
    'should seek both filters of a pair in one index: %s',
    (_name, criteria) => {
      const { sql, params } = vaultAuditListQuery(criteria);
      const plan = explainQueryPlan(store.db, sql, [...params, 100]);
      const pair = Object.keys(criteria)
        .filter((k) => FILTERS.some(([name]) => name === k))
        .map(
          (k) => ({ fileId: 'file_id', actor: 'actor', action: 'action', result: 'result' })[k]!,
        );
      const reads = plan.filter((step) => /^(SEARCH|SCAN) /.test(step));
      expect(reads.length).toBeGreaterThan(0);
      for (const read of reads) {
        for (const column of pair) expect(read).toContain(`${column}=?`);
      }
    },
  );
});
