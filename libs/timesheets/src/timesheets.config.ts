import { DAY_PAGE_MAX_WORKERS } from './infrastructure/persistence/timesheet.repository';
import { defineConfig, Env, validateEnv, IsInt, IsOmittable, Max, Min } from '@app/common';

class TimesheetsEnv {
  @IsOmittable() @IsInt() @Min(1) @Max(366) TIMESHEET_MAX_PERIOD_DAYS?: number;
  @IsOmittable() @IsInt() @Min(1) @Max(36) TIMESHEET_MAX_SHIFT_HOURS?: number;
  @IsOmittable() @IsInt() @Min(1) @Max(3660) TIMESHEET_BACKFILL_DAYS?: number;
  @IsOmittable() @IsInt() @Min(1) @Max(100_000) TIMESHEET_PAGE_MAX_WORKERS?: number;
  @IsOmittable() @IsInt() @Min(2) @Max(3600) TIMESHEET_REBUILD_LEASE_SECONDS?: number;
  @IsOmittable() @IsInt() @Min(0) @Max(10_000_000) TIMESHEET_CORRECTION_MAX_LAG?: number;
  @IsOmittable() @IsInt() @Min(1) @Max(600_000) TIMESHEET_CORRECTION_WAIT_MS?: number;
  @IsOmittable() @IsInt() @Min(10) @Max(3_600_000) TIMESHEET_LEDGER_CHECK_MS?: number;
  @IsOmittable() @IsInt() @Min(1) @Max(1_000_000) TIMESHEET_LEDGER_CHECK_LINKS?: number;
  @IsOmittable() @IsInt() @Min(1) @Max(1_000_000) TIMESHEET_ENTRY_CHECK_ROWS?: number;
}

export interface TimesheetsSettings {
  /** The longest period one timesheet, CSV or payroll request may cover. */
  maxPeriodDays: number;
  /** A check-out more than this after the check-in does not close it (the shift stays open). */
  maxShiftHours: number;
  /**
   * How far back, in days from the server clock, an `add_shift` correction may start: the
   * history a supervisor records afterwards (a paper register, lost punches), bounded so that a
   * mistyped year is refused rather than written into the immutable ledger. It reaches before
   * the worker's creation and before a site was given alike.
   */
  backfillDays: number;
  /**
   * The most workers one page of days visits on SQLite: a page over many workers with few days
   * in the period stops there, short, with a next cursor (a bound on a page's time).
   */
  pageMaxWorkers: number;
  /**
   * How long a site's rebuild mark holds without renewal (`timesheets:rebuild` renews it every
   * third of it while it works): how long a dead rebuild blocks the site's reads and corrections.
   */
  rebuildLeaseSeconds: number;
  /**
   * The most links a site's read model may be behind its chain (in this process) for a
   * correction to wait for it: beyond, 503 `timesheets_catching_up` at once, and the catch-up
   * goes on in the background.
   */
  correctionMaxLag: number;
  /**
   * The longest a correction waits for the read model to catch up (the projection's queue and
   * the site's catch-up), in ms, from its arrival: beyond, 503 `timesheets_catching_up`.
   */
  correctionWaitMs: number;
  /**
   * How often the ledger watch runs, in ms: each run checks again (hashed, chained, proved in
   * the signed checkpoint) up to `ledgerCheckLinks` sealed links the read model already took,
   * going on where the last run ended, site after site, and re-reads the links sites stopped
   * before (docs/architecture.md, "The ledger watch").
   */
  ledgerCheckMs: number;
  /** The most links one run of the ledger watch checks (its bound on the event loop). */
  ledgerCheckLinks: number;
  /**
   * The most read-model entries (the punch copies) one run of the ledger watch reads with
   * their tags checked, after its links, going on where the last run ended, site after site: a
   * changed one makes the site's reads answer 503 `timesheets_tampered` with no recompute asked
   * (docs/architecture.md, "The ledger watch").
   */
  entryCheckRows: number;
}

function readTimesheetsConfig(env: Env): TimesheetsSettings {
  const v = validateEnv(TimesheetsEnv, env);
  return {
    maxPeriodDays: v.TIMESHEET_MAX_PERIOD_DAYS ?? 62,
    maxShiftHours: v.TIMESHEET_MAX_SHIFT_HOURS ?? 16,
    // the longest period a timesheet or payroll request covers: a clerk can backfill whatever
    // one payroll read shows
    backfillDays: v.TIMESHEET_BACKFILL_DAYS ?? 62,
    pageMaxWorkers: v.TIMESHEET_PAGE_MAX_WORKERS ?? DAY_PAGE_MAX_WORKERS,
    rebuildLeaseSeconds: v.TIMESHEET_REBUILD_LEASE_SECONDS ?? 30,
    correctionMaxLag: v.TIMESHEET_CORRECTION_MAX_LAG ?? 5_000,
    correctionWaitMs: v.TIMESHEET_CORRECTION_WAIT_MS ?? 15_000,
    ledgerCheckMs: v.TIMESHEET_LEDGER_CHECK_MS ?? 5000,
    ledgerCheckLinks: v.TIMESHEET_LEDGER_CHECK_LINKS ?? 2000,
    entryCheckRows: v.TIMESHEET_ENTRY_CHECK_ROWS ?? 2000,
  };
}

export const timesheetsConfig = defineConfig('timesheets', readTimesheetsConfig);
