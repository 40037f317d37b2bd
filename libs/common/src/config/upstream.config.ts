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
  /** Unset: submissions answer a failure (502, `upstream_not_configured`) with a clear message. */
  url?: string;
  apiKey?: string;
  /**
   * One attempt's timeout. Default 100 s: a slow upstream (20 s, 60 s) is answered within the one
   * attempt, and the answer still reaches the fielded kiosk inside its 120 s acknowledgement wait
   * (the client also caps every attempt at that wait and at the session deadline).
   */
  timeoutMs: number;
  /** Extra attempts, only when the request provably did not arrive or a 503 said Retry-After. */
  retries: number;
}

export function upstreamConfig(env: Env): UpstreamSettings {
  const v = validateEnv(UpstreamEnv, env);
  return {
    url: v.UPSTREAM_URL?.replace(/\/+$/, ''),
    apiKey: v.UPSTREAM_API_KEY,
    timeoutMs: v.UPSTREAM_TIMEOUT_MS ?? 100_000,
    retries: v.UPSTREAM_RETRIES ?? 2,
  };
}
