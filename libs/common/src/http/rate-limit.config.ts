import { IsInt, Matches, Max, Min } from '../validation/validators';
import { IsOmittable } from '../validation/omittable';
import { defineConfig } from '../config/config-namespace';
import { Env, validateEnv } from '../config/env-schema';

class RateLimitEnv {
  @IsOmittable() @IsInt() @Min(1) @Max(86_400) RATE_LIMIT_WINDOW_SECONDS?: number;
  @IsOmittable() @IsInt() @Min(0) @Max(100_000_000) RATE_LIMIT_PER_IP?: number;
  @IsOmittable() @IsInt() @Min(0) @Max(100_000_000) RATE_LIMIT_PER_CREDENTIAL?: number;
  @IsOmittable()
  @Matches(/^[A-Za-z0-9:._-]{1,64}$/, { message: 'must be 1-64 of A-Z a-z 0-9 : . _ -' })
  RATE_LIMIT_REDIS_PREFIX?: string;
}

/** HTTP rate limits: requests per window, per client IP and per presented credential. */
export interface RateLimitSettings {
  windowSeconds: number;
  /** 0 turns the per-IP limit off (said at boot). */
  perIp: number;
  /** 0 turns the per-credential limit off (said at boot). */
  perCredential: number;
  /** Prefix of the counters' keys in Redis (when REDIS_URL is set). */
  redisPrefix: string;
}

function readRateLimitConfig(env: Env): RateLimitSettings {
  const v = validateEnv(RateLimitEnv, env);
  return {
    windowSeconds: v.RATE_LIMIT_WINDOW_SECONDS ?? 60,
    perIp: v.RATE_LIMIT_PER_IP ?? 600,
    perCredential: v.RATE_LIMIT_PER_CREDENTIAL ?? 300,
    redisPrefix: v.RATE_LIMIT_REDIS_PREFIX ?? 'mdai:rl:',
  };
}

export const rateLimitConfig = defineConfig('rateLimit', readRateLimitConfig);
