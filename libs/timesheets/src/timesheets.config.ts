import { IsInt, IsOptional, IsString, Max, Min, Validate } from 'class-validator';
import { defineConfig, Env, IsTimeZoneConstraint, validateEnv } from '@app/common';

class TimesheetsEnv {
  @IsOptional() @IsString() @Validate(IsTimeZoneConstraint) SITE_DEFAULT_TIME_ZONE?: string;
  @IsOptional() @IsInt() @Min(1) @Max(366) TIMESHEET_MAX_PERIOD_DAYS?: number;
  @IsOptional() @IsInt() @Min(1) @Max(36) TIMESHEET_MAX_SHIFT_HOURS?: number;
}

export interface TimesheetsSettings {
  /** IANA zone of sites created without one (and of sites from before zones existed). */
  defaultTimeZone: string;
  /** The longest period one timesheet, CSV or payroll request may cover. */
  maxPeriodDays: number;
  /** A check-out more than this after the check-in does not close it (the shift stays open). */
  maxShiftHours: number;
}

function readTimesheetsConfig(env: Env): TimesheetsSettings {
  const v = validateEnv(TimesheetsEnv, env);
  return {
    defaultTimeZone: v.SITE_DEFAULT_TIME_ZONE ?? 'Asia/Kolkata',
    maxPeriodDays: v.TIMESHEET_MAX_PERIOD_DAYS ?? 62,
    maxShiftHours: v.TIMESHEET_MAX_SHIFT_HOURS ?? 16,
  };
}

export const timesheetsConfig = defineConfig('timesheets', readTimesheetsConfig);
