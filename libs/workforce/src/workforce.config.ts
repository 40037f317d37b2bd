import {
  canonicalTimeZone,
  defineConfig,
  Env,
  isLegacyTimeZone,
  IsTimeZoneConstraint,
  validateEnv,
  IsInt,
  IsOmittable,
  IsString,
  Max,
  Min,
  Validate,
  ValidatorConstraint,
  ValidatorConstraintInterface,
} from '@app/common';
import { DEFAULT_PHONE_COUNTRY, isPhoneRegion } from './domain/phone-number';

/** An ISO 3166-1 alpha-2 region libphonenumber-js knows (checked only when the variable is set). */
@ValidatorConstraint({ name: 'isPhoneRegion' })
class IsPhoneRegionConstraint implements ValidatorConstraintInterface {
  validate(value: unknown): boolean {
    return typeof value === 'string' && isPhoneRegion(value);
  }

  defaultMessage(): string {
    return 'must be an ISO 3166-1 alpha-2 region with a phone numbering plan, in upper case, such as IN';
  }
}

/** A site's zone as a site may be created with: a place's zone, not a legacy or fixed-offset id. */
@ValidatorConstraint({ name: 'isPlaceTimeZone' })
class IsPlaceTimeZoneConstraint implements ValidatorConstraintInterface {
  validate(value: unknown): boolean {
    return typeof value !== 'string' || !isLegacyTimeZone(value);
  }

  defaultMessage(): string {
    return "is a fixed-offset or legacy time zone, not a real place's: give the region's name, such as America/New_York or Asia/Kolkata (UTC for none); it becomes the zone of every site created without one, which cannot be changed after";
  }
}

class WorkforceEnv {
  @IsOmittable() @IsInt() @Min(1) @Max(24 * 90) ENROLLMENT_CODE_TTL_HOURS?: number;
  @IsOmittable() @IsInt() @Min(0) @Max(365) TRUST_INHERITANCE_DAYS?: number;
  @IsOmittable()
  @IsString()
  @Validate(IsTimeZoneConstraint)
  @Validate(IsPlaceTimeZoneConstraint)
  SITE_DEFAULT_TIME_ZONE?: string;
  @IsOmittable() @IsString() @Validate(IsPhoneRegionConstraint) PHONE_DEFAULT_COUNTRY?: string;
}

export interface WorkforceSettings {
  /** How long an enrollment code may be redeemed after it is issued. */
  enrollmentCodeTtlSeconds: number;
  /** How long a worker onboarded by a thekedar stands on the thekedar's score. */
  inheritanceDays: number;
  /** IANA zone of sites created without one (and of sites from before zones existed). */
  defaultTimeZone: string;
  /**
   * ISO 3166-1 alpha-2 region of a phone number written without a country code (`98765 43210`,
   * `098765 43210`): numbers are stored and compared in E.164.
   */
  phoneDefaultCountry: string;
}

function readWorkforceConfig(env: Env): WorkforceSettings {
  const v = validateEnv(WorkforceEnv, env);
  return {
    enrollmentCodeTtlSeconds: (v.ENROLLMENT_CODE_TTL_HOURS ?? 7 * 24) * 3600,
    inheritanceDays: v.TRUST_INHERITANCE_DAYS ?? 30,
    // spelled as a site's zone is stored (utc → UTC, asia/kolkata → Asia/Kolkata)
    defaultTimeZone: canonicalTimeZone(v.SITE_DEFAULT_TIME_ZONE ?? 'Asia/Kolkata'),
    phoneDefaultCountry: v.PHONE_DEFAULT_COUNTRY ?? DEFAULT_PHONE_COUNTRY,
  };
}

/** Sites, workers and enrollment codes (timesheets read the default zone from here too). */
export const workforceConfig = defineConfig('workforce', readWorkforceConfig);
