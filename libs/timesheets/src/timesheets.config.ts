import { DAY_PAGE_MAX_WORKERS } from './infrastructure/persistence/timesheet.repository';
import { defineConfig, Env, validateEnv, IsInt, IsOptional, Max, Min } from '@app/common';

class TimesheetsEnv {
  @IsOptional() @IsInt() @Min(1) @Max(366) TIMESHEET_MAX_PERIOD_DAYS?: number;
  @IsOptional() @IsInt() @Min(1) @Max(36) TIMESHEET_MAX_SHIFT_HOURS?: number;
  @IsOptional() @IsInt() @Min(1) @Max(100_000) TIMESHEET_PAGE_MAX_WORKERS?: number;
  @IsOptional() @IsInt() @Min(2) @Max(3600) TIMESHEET_REBUILD_LEASE_SECONDS?: number;
}

export interface TimesheetsSettings {
  /** The longest period one timesheet, CSV or payroll request may cover. */
  maxPeriodDays: number;
  /** A check-out more than this after the check-in does not close it (the shift stays open). */
  maxShiftHours: number;
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
}

function readTimesheetsConfig(env: Env): TimesheetsSettings {
  const v = validateEnv(TimesheetsEnv, env);
  return {
    maxPeriodDays: v.TIMESHEET_MAX_PERIOD_DAYS ?? 62,
    maxShiftHours: v.TIMESHEET_MAX_SHIFT_HOURS ?? 16,
    pageMaxWorkers: v.TIMESHEET_PAGE_MAX_WORKERS ?? DAY_PAGE_MAX_WORKERS,
    rebuildLeaseSeconds: v.TIMESHEET_REBUILD_LEASE_SECONDS ?? 30,
  };
}

export const timesheetsConfig = defineConfig('timesheets', readTimesheetsConfig);
