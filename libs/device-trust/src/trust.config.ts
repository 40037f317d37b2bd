import {
  defineConfig,
  Env,
  validateEnv,
  IsInt,
  IsOmittable,
  IsString,
  Matches,
  Max,
  Min,
} from '@app/common';

const VERSION = /^\d{1,4}(\.\d{1,4}){0,2}$/;

class TrustEnv {
  @IsOmittable() @IsInt() @Min(0) @Max(100) TRUST_AUTO_BLOCK_FLOOR?: number;
  @IsOmittable() @IsInt() @Min(0) @Max(100) TRUST_LOW_THRESHOLD?: number;
  @IsOmittable()
  @IsString()
  @Matches(VERSION, { message: 'must be a version like 1.4.0' })
  TRUST_MIN_APP_VERSION?: string;
  @IsOmittable() @IsInt() @Min(1) @Max(365) TRUST_FRAUD_WINDOW_DAYS?: number;
  @IsOmittable() @IsInt() @Min(0) @Max(100) TRUST_FRAUD_PENALTY_CAP?: number;
  @IsOmittable() @IsInt() @Min(10) @Max(3600) ONBOARDING_SIGNATURE_MAX_SKEW_SECONDS?: number;
}

export interface TrustSettings {
  /** A device whose score falls below this is blocked automatically (actor `system:trust`); 0 disables. */
  autoBlockFloor: number;
  /** Packets synced by a request scoring below this carry `meta.lowTrust: true`. */
  lowThreshold: number;
  /** Oldest worker app version (`x-app-version`) that is not penalized. */
  minAppVersion: string;
  /** Fraud events older than this no longer weigh on a device's score. */
  fraudWindowDays: number;
  /** The most the fraud history can take off a score. */
  fraudPenaltyCap: number;
  /** How far `x-request-timestamp` of a thekedar-signed request may be from server time. */
  onboardingMaxSkewSeconds: number;
}

function readTrustConfig(env: Env): TrustSettings {
  const v = validateEnv(TrustEnv, env);
  return {
    autoBlockFloor: v.TRUST_AUTO_BLOCK_FLOOR ?? 20,
    lowThreshold: v.TRUST_LOW_THRESHOLD ?? 40,
    minAppVersion: v.TRUST_MIN_APP_VERSION ?? '1.0.0',
    fraudWindowDays: v.TRUST_FRAUD_WINDOW_DAYS ?? 30,
    fraudPenaltyCap: v.TRUST_FRAUD_PENALTY_CAP ?? 60,
    onboardingMaxSkewSeconds: v.ONBOARDING_SIGNATURE_MAX_SKEW_SECONDS ?? 300,
  };
}

/** Trust scoring and assisted onboarding (TRUST_INHERITANCE_DAYS is workforce's: it stamps workers). */
export const trustConfig = defineConfig('trust', readTrustConfig);
