/** The totals a payroll showed for one worker when its period was closed. */
export interface ClosedWorkerTotals {
  workerId: string;
  daysPresent: number;
  hours: number;
  workedSeconds: number;
  flaggedDays: number;
}

/** A closed payroll period of a site, as stored (its tag over every other field). */
export interface PayrollClose {
  siteId: string;
  /** First and last local day, inclusive (YYYY-MM-DD). */
  from: string;
  to: string;
  /** Epoch ms of the close. */
  at: number;
  /** Who closed it: `admin:<keyId>`. */
  by: string;
  workers: ClosedWorkerTotals[];
  tag: string;
}

/** A new close, or the one that took its place (the same period, or one overlapping it). */
export type CloseResult =
  | { status: 'closed'; close: PayrollClose }
  | { status: 'exists'; close: PayrollClose }
  | { status: 'overlaps'; close: PayrollClose };

/**
 * What `keys:retag` makes of one close as stored: `tampered` (under no held key: never
 * re-tagged), `current`, `suspect` (only under a key given to `--except`), else `retagged`:
 * `tag` is its tag under the current key over the same fields.
 */
export interface CloseRetagPlan {
  result: 'retagged' | 'current' | 'tampered' | 'suspect';
  /** The key it was under (retagged), or the excepted key it verifies under (suspect). */
  from?: string;
  tag?: string;
}

/**
 * What `keys:retag` did with one close (`id`: `<siteId>|<from>`): its plan's result, `changed`
 * (changed by a server on every try), or `deleted` (gone since its id was read).
 */
export interface CloseRetagOutcome {
  id: string;
  result: CloseRetagPlan['result'] | 'changed' | 'deleted';
  from?: string;
}

/** A close's id as `keys:retag` pages and lists it. */
export function closeIdOf(siteId: string, from: string): string {
  return `${siteId}|${from}`;
}

/** The site and first day of a close's id (its first day is the part after the last `|`). */
export function closeKeyOf(id: string): { siteId: string; from: string } {
  const at = id.lastIndexOf('|');
  return { siteId: id.slice(0, at), from: id.slice(at + 1) };
}

/**
 * Payroll closes (table / collection `payroll_closes`): one row per closed period of a site,
 * never updated or deleted by the server. Keyed by (site, from): every read is a seek of it.
 */
export abstract class PayrollCloseRepository {
  /**
   * Stores `close` unless a close of the site overlaps its period: the same period answers
   * `exists` (the stored one), another overlapping one `overlaps` (that one). Atomic on
   * SQLite (one write turn); on MongoDB the first of two overlapping closes stored at once
   * (by its `at`, then its `from`) is kept and the other removed, answered `overlaps`.
   */
  abstract record(close: PayrollClose): Promise<CloseResult>;

  /** The site's closes whose period overlaps [from, to], by `from`. */
  abstract overlapping(siteId: string, from: string, to: string): Promise<PayrollClose[]>;

  /** The site's closes, newest period first, at most `limit`, before `before` (a `from`). */
  abstract list(siteId: string, limit: number, before?: string): Promise<PayrollClose[]>;

  /** `keys:retag`: the ids (`<siteId>|<from>`) of every site's closes after `afterId`, in order. */
  abstract retagIds(afterId: string, limit: number): Promise<string[]>;

  /**
   * `keys:retag` of one close as read: `plan` says what to make of it, and its tag is written
   * only over the row as read (SQLite: one transaction in the write turn; MongoDB: a
   * compare-and-set over the document as read, three tries, then `changed`).
   */
  abstract retag(
    id: string,
    plan: (close: PayrollClose) => CloseRetagPlan,
  ): Promise<CloseRetagOutcome>;
}

/** The outcome of a close's plan. */
export function closeRetagOutcome(id: string, plan: CloseRetagPlan): CloseRetagOutcome {
  return { id, result: plan.result, ...(plan.from !== undefined ? { from: plan.from } : {}) };
}

/** The stored totals; a body that is no JSON array (changed outside the server) reads as none. */
export function parseWorkers(body: unknown): ClosedWorkerTotals[] {
  if (typeof body !== 'string') return [];
  try {
    const parsed: unknown = JSON.parse(body);
    return Array.isArray(parsed) ? (parsed as ClosedWorkerTotals[]) : [];
  } catch {
    return [];
  }
}
