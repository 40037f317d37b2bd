import type { Database } from 'better-sqlite3';
import { literalLimitSql } from '../sqlite/limited-statement';

/** SQLite's EXPLAIN QUERY PLAN of one statement, one line per plan step. */
export function explainQueryPlan(db: Database, sql: string, params: unknown[]): string[] {
  return db
    .prepare<unknown[], { detail: string }>(`EXPLAIN QUERY PLAN ${sql}`)
    .all(...params)
    .map((row) => row.detail);
}

/**
 * The steps of a plan that make a listing cost grow with the table: a full scan, a scan
 * of an index from its start that filters as it goes, or a sort of every matching row
 * (`USE TEMP B-TREE`). With `orderedScan`, a scan of that index is allowed: an unfiltered
 * first page reads the index in order and stops after LIMIT rows.
 */
export function planProblems(plan: string[], orderedScan?: string): string[] {
  return plan.filter((step) => {
    if (step.includes('TEMP B-TREE')) return true;
    if (!step.startsWith('SCAN')) return false;
    return !(orderedScan && step.endsWith(`USING INDEX ${orderedScan}`));
  });
}

/**
 * The plan of `sql` (ending in `LIMIT ?`) as `LimitedStatement` runs it, the limit written in,
 * for each of `limits`; each must be the plan SQLite makes with that limit bound. `params` are
 * all but the limit.
 */
export function literalLimitPlans(
  db: Database,
  sql: string,
  params: unknown[],
  limits: number[] = [1, 100, 1000],
): string[][] {
  return limits.map((limit) => {
    const plan = explainQueryPlan(db, literalLimitSql(sql, limit), params);
    const bound = explainQueryPlan(db, sql, [...params, limit]);
    if (plan.join('\n') !== bound.join('\n')) {
      throw new Error(
        `LIMIT ${limit} planned otherwise than LIMIT ? bound to it:\n${plan.join('\n')}\nvs\n${bound.join('\n')}`,
      );
    }
    return plan;
  });
}
