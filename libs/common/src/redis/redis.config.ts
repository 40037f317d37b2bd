import { Matches } from '../validation/validators';
import { IsOmittable } from '../validation/omittable';
import { defineConfig } from '../config/config-namespace';
import { Env, validateEnv } from '../config/env-schema';

class RedisEnv {
  @IsOmittable()
  @Matches(/^rediss?:\/\/\S+$/, { message: 'must be a redis:// or rediss:// URL' })
  REDIS_URL?: string;
}

export interface RedisSettings {
  url?: string;
}

/** The shared Redis (relay bus, rate-limit counters); unset: in-process. */
export const redisConfig = defineConfig('redis', (env: Env): RedisSettings => ({
  url: validateEnv(RedisEnv, env).REDIS_URL,
}));
