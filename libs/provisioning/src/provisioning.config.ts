import { defineConfig, Env, validateEnv, IsInt, IsOmittable, Max, Min } from '@app/common';

class ProvisioningEnv {
  @IsOmittable() @IsInt() @Min(30) @Max(86_400) CHALLENGE_TTL_SECONDS?: number;
  @IsOmittable() @IsInt() @Min(1) @Max(20) CHALLENGE_MAX_ATTEMPTS?: number;
}

export interface ProvisioningSettings {
  challengeTtlSeconds: number;
  /** Wrong answers after which a challenge is locked for good. */
  challengeMaxAttempts: number;
}

function readProvisioningConfig(env: Env): ProvisioningSettings {
  const v = validateEnv(ProvisioningEnv, env);
  return {
    challengeTtlSeconds: v.CHALLENGE_TTL_SECONDS ?? 600,
    challengeMaxAttempts: v.CHALLENGE_MAX_ATTEMPTS ?? 5,
  };
}

export const provisioningConfig = defineConfig('provisioning', readProvisioningConfig);
