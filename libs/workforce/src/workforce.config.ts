import {
  defineConfig,
  Env,
  IsTimeZoneConstraint,
  validateEnv,
  IsInt,
  IsOptional,
  IsString,
  Max,
  Min,
  Validate,
} from '@app/common';

class WorkforceEnv {
  @IsOptional() @IsInt() @Min(1) @Max(24 * 90) ENROLLMENT_CODE_TTL_HOURS?: number;
  @IsOptional() @IsInt() @Min(0) @Max(365) TRUST_INHERITANCE_DAYS?: number;
  @IsOptional() @IsString() @Validate(IsTimeZoneConstraint) SITE_DEFAULT_TIME_ZONE?: string;
}

export interface WorkforceSettings {
  /** How long an enrollment code may be redeemed after it is issued. */
  enrollmentCodeTtlSeconds: number;
  /** How long a worker onboarded by a thekedar stands on the thekedar's score. */
  inheritanceDays: number;
  /** IANA zone of sites created without one (and of sites from before zones existed). */
  defaultTimeZone: string;
}

function readWorkforceConfig(env: Env): WorkforceSettings {
  const v = validateEnv(WorkforceEnv, env);
  return {
    enrollmentCodeTtlSeconds: (v.ENROLLMENT_CODE_TTL_HOURS ?? 7 * 24) * 3600,
    inheritanceDays: v.TRUST_INHERITANCE_DAYS ?? 30,
    defaultTimeZone: v.SITE_DEFAULT_TIME_ZONE ?? 'Asia/Kolkata',
  };
}

/** Sites, workers and enrollment codes (timesheets read the default zone from here too). */
export const workforceConfig = defineConfig('workforce', readWorkforceConfig);
