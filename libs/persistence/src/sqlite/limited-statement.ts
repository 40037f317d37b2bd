import type { Database, Statement } from 'better-sqlite3';

/** Statements kept per SQL text: one per page size clients ask for (page limits are 1–1000). */
const MAX_LIMITS_KEPT = 64;

/**
 * A listing statement that ends in `LIMIT ?`, prepared once per limit value with the limit
 * written into the SQL as an integer literal.
 *
 * SQLite's planner (3.4x, as better-sqlite3 bundles it) reads the value bound to a `LIMIT ?` when
 * it plans, so it marks such a statement to be compiled again whenever that parameter is bound:
 * every `.all()` re-parsed and re-planned the SQL, about half of a small page's cost. A literal
 * limit gives the plan SQLite would have made for that value, compiled once. Every other
 * parameter stays bound as before; a limit that is not a non-negative safe integer is refused.
 */
export class LimitedStatement<P extends unknown[], R> {
  private readonly byLimit = new Map<number, Statement<P, R>>();
  private readonly head: string;

  constructor(
    private readonly db: Database,
    sql: string,
  ) {
    const at = sql.search(/\sLIMIT \?\s*$/);
    if (at < 0) throw new Error('LimitedStatement: the SQL must end with "LIMIT ?"');
    this.head = sql.slice(0, at);
  }

  /** The rows for `params` (every parameter but the limit), at most `limit` of them. */
  all(params: P, limit: number): R[] {
    return this.statement(limit).all(...params);
  }

  private statement(limit: number): Statement<P, R> {
    let statement = this.byLimit.get(limit);
    if (statement) return statement;
    if (!Number.isSafeInteger(limit) || limit < 0) {
      throw new RangeError(`LimitedStatement: limit must be a non-negative integer, got ${limit}`);
    }
    statement = this.db.prepare<P, R>(`${this.head} LIMIT ${limit}`);
    if (this.byLimit.size >= MAX_LIMITS_KEPT) this.byLimit.clear();
    this.byLimit.set(limit, statement);
    return statement;
  }
}
