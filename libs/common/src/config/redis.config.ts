import { IsOptional, Matches } from 'class-validator';
import { Env, validateEnv } from './env-schema';

class RedisEnv {
  @IsOptional()
  @Matches(/^rediss?:\/\/\S+$/, { message: 'must be a redis:// or rediss:// URL' })
  REDIS_URL?: string;
}

export interface RedisSettings {
  url?: string;
}

export function redisConfig(env: Env): RedisSettings {
  return { url: validateEnv(RedisEnv, env).REDIS_URL };
}
