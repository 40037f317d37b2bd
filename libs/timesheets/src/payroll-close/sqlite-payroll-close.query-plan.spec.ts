import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '@app/persistence';
import { explainQueryPlan, planProblems } from '@app/persistence/testing/query-plan';
import {
  PAYROLL_CLOSES_AFTER_SQL,
  PAYROLL_CLOSES_OVERLAPPING_SQL,
  PAYROLL_CLOSES_CHAIN_SQL,
  PAYROLL_CLOSES_PAGE_SQL,
  PAYROLL_CLOSES_PLACES_SQL,
  PAYROLL_CLOSES_RETAG_PAGE_SQL,
  PAYROLL_CLOSES_TIP_SQL,
  SqlitePayrollCloseRepository,
} from './sqlite-payroll-close.repository';

// issue 17: every listing is index-bound
describe('SqlitePayrollCloseRepository query plans', () => {
  let dir: string;
  let store: SqliteStore;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mdai-closes-plan-'));
    store = new SqliteStore(join(dir, 'plan.sqlite'));
    new SqlitePayrollCloseRepository(store); // applies the migration
  });
  afterAll(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("should seek a site's closes overlapping a period on the key (no scan of other sites')", () => {
    const plan = explainQueryPlan(store.db, PAYROLL_CLOSES_OVERLAPPING_SQL, [
      's1',
      '2026-10-31',
      '2026-10-01',
    ]);
    expect(plan).toEqual(['SEARCH payroll_closes USING PRIMARY KEY (site_id=? AND from_day<?)']);
    expect(planProblems(plan)).toEqual([]);
  });

  it("should page a site's closes newest first on the key, unsorted", () => {
    const plan = explainQueryPlan(store.db, PAYROLL_CLOSES_PAGE_SQL, ['s1', '2026-11-01', 100]);
    expect(plan).toEqual(['SEARCH payroll_closes USING PRIMARY KEY (site_id=? AND from_day<?)']);
    expect(planProblems(plan)).toEqual([]);
  });

  it("should page every site's closes for keys:retag on the key, unsorted", () => {
    const plan = explainQueryPlan(store.db, PAYROLL_CLOSES_RETAG_PAGE_SQL, [
      's1',
      '2026-10-01',
      1000,
    ]);
    expect(plan).toEqual(['SEARCH payroll_closes USING PRIMARY KEY ((site_id,from_day)>(?,?))']);
    expect(planProblems(plan)).toEqual([]);
  });

  it("should read a site's chain (its places and periods, its tip, every close) on the (site, seq) index, unsorted", () => {
    for (const sql of [PAYROLL_CLOSES_TIP_SQL, PAYROLL_CLOSES_CHAIN_SQL]) {
      const plan = explainQueryPlan(store.db, sql, ['s1']);
      expect(plan.join(' ')).toContain('payroll_closes_seq');
      expect(planProblems(plan)).toEqual([]);
    }
    expect(explainQueryPlan(store.db, PAYROLL_CLOSES_PLACES_SQL, ['s1'])).toEqual([
      'SEARCH payroll_closes USING COVERING INDEX payroll_closes_periods (site_id=?)',
    ]);
  });

  it("should read a site's closes after a place on the (site, seq) index, unsorted", () => {
    const plan = explainQueryPlan(store.db, PAYROLL_CLOSES_AFTER_SQL, ['s1', 2]);
    expect(plan).toEqual([
      'SEARCH payroll_closes USING INDEX payroll_closes_seq (site_id=? AND seq>?)',
    ]);
    expect(planProblems(plan)).toEqual([]);
  });
});
