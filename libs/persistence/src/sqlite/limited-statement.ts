import type { Database, Statement } from 'better-sqlite3';

/** Statements kept per SQL text: one per page size clients ask for (page limits are 1–1000). */
const MAX_LIMITS_KEPT = 64;

/** SQL texts kept by `LimitedStatements` (listings whose WHERE depends on the filters given). */
const MAX_TEXTS_KEPT = 64;

const TRAILING_LIMIT = /\sLIMIT \?\s*$/;

/**
 * `sql` (ending in `LIMIT ?`) with the limit written in as an integer literal: the statement
 * `LimitedStatement` runs. Exported so query-plan tests EXPLAIN that statement.
 */
export function literalLimitSql(sql: string, limit: number): string {
  const at = sql.search(TRAILING_LIMIT);
  if (at < 0) throw new Error('LimitedStatement: the SQL must end with "LIMIT ?"');
  if (!Number.isSafeInteger(limit) || limit < 0) {
    throw new RangeError(`LimitedStatement: limit must be a non-negative integer, got ${limit}`);
  }
  return `${sql.slice(0, at)} LIMIT ${limit}`;
}

/**
 * A listing statement that ends in `LIMIT ?`, prepared once per limit value with the limit
 * written into the SQL as an integer literal.
 *
 * SQLite's planner (3.4x–3.5x, as better-sqlite3 bundles it) reads the value bound to a
 * `LIMIT ?` when it plans, so it marks such a statement to be compiled again whenever that
 * parameter is bound: every `.all()` re-parsed and re-planned the SQL, about half of a small
 * page's cost. A literal limit gives the plan SQLite would have made for that value, compiled
 * once. Every other parameter stays bound as before; a limit that is not a non-negative safe
 * integer is refused. With `raw`, rows come back as arrays (better-sqlite3's `.raw(true)`).
 */
export class LimitedStatement<P extends unknown[], R> {
  private readonly byLimit = new Map<number, Statement<P, R>>();

  constructor(
    private readonly db: Database,
    private readonly sql: string,
    private readonly options: { raw?: boolean } = {},
  ) {
    literalLimitSql(sql, 0); // refuses SQL that does not end in LIMIT ?
  }

  /** The rows for `params` (every parameter but the limit), at most `limit` of them. */
  all(params: P, limit: number): R[] {
    return this.statement(limit).all(...params);
  }

  private statement(limit: number): Statement<P, R> {
    let statement = this.byLimit.get(limit);
    if (statement) return statement;
    statement = this.db.prepare<P, R>(literalLimitSql(this.sql, limit));
    if (this.options.raw) statement.raw(true);
    if (this.byLimit.size >= MAX_LIMITS_KEPT) this.byLimit.clear();
    this.byLimit.set(limit, statement);
    return statement;
  }
}

/**
 * `LimitedStatement`s by SQL text, for a listing whose SQL is built from the filters a request
 * gives (one text per filter shape): at most `maxTexts` texts are kept (all are dropped when a
 * new one would pass it), each with its page sizes.
 */
export class LimitedStatements<R> {
  private readonly bySql = new Map<string, LimitedStatement<unknown[], R>>();

  constructor(
    private readonly db: Database,
    private readonly maxTexts = MAX_TEXTS_KEPT,
  ) {}

  /** The rows of `sql` (ending in `LIMIT ?`) for `params` (all but the limit), at most `limit`. */
  all(sql: string, params: unknown[], limit: number): R[] {
    let statement = this.bySql.get(sql);
    if (!statement) {
      statement = new LimitedStatement<unknown[], R>(this.db, sql);
      if (this.bySql.size >= this.maxTexts) this.bySql.clear();
      this.bySql.set(sql, statement);
    }
    return statement.all(params, limit);
  }
}
