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
