import { IsInt, IsOptional, IsString, Matches, Max, Min } from 'class-validator';
import { Env, validateEnv } from './env-schema';

class UpstreamEnv {
  @IsOptional()
  @Matches(/^https?:\/\/\S+$/, { message: 'must be an http:// or https:// URL' })
  UPSTREAM_URL?: string;
  @IsOptional() @IsString() UPSTREAM_API_KEY?: string;
  @IsOptional() @IsInt() @Min(100) @Max(120_000) UPSTREAM_TIMEOUT_MS?: number;
  @IsOptional() @IsInt() @Min(0) @Max(5) UPSTREAM_RETRIES?: number;
}

export interface UpstreamSettings {
  /** Unset: submissions answer `upstream_failed` with a clear message. */
  url?: string;
  apiKey?: string;
  timeoutMs: number;
  retries: number;
}

export function upstreamConfig(env: Env): UpstreamSettings {
  const v = validateEnv(UpstreamEnv, env);
  return {
    url: v.UPSTREAM_URL?.replace(/\/+$/, ''),
    apiKey: v.UPSTREAM_API_KEY,
    timeoutMs: v.UPSTREAM_TIMEOUT_MS ?? 15_000,
    retries: v.UPSTREAM_RETRIES ?? 2,
  };
}
