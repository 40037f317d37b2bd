import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { Env, validateEnv } from './env-schema';

class SessionEnv {
  @IsOptional() @IsInt() @Min(2) @Max(3600) SESSION_TTL_SECONDS?: number;
}

export interface SessionSettings {
  ttlSeconds: number;
}

export function sessionConfig(env: Env): SessionSettings {
  return { ttlSeconds: validateEnv(SessionEnv, env).SESSION_TTL_SECONDS ?? 180 };
}
