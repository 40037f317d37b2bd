import {
  AppSettings,
  defineConfig,
  Env,
  validateEnv,
  IsInt,
  IsOmittable,
  IsString,
  Matches,
  Max,
  Min,
  registerSecrets,
} from '@app/common';

class UpstreamEnv {
  @IsOmittable()
  @Matches(/^https?:\/\/\S+$/, { message: 'must be an http:// or https:// URL' })
  UPSTREAM_URL?: string;
  @IsOmittable() @IsString() UPSTREAM_API_KEY?: string;
  @IsOmittable() @IsInt() @Min(100) @Max(120_000) UPSTREAM_TIMEOUT_MS?: number;
  @IsOmittable() @IsInt() @Min(0) @Max(5) UPSTREAM_RETRIES?: number;
}

/**
 * In development (the default NODE_ENV), an unset UPSTREAM_URL points at the local upstream
 * stub that `npm run demo` (or `npm run upstream:stub`) starts, with its default key, so a
 * fresh clone's `npm start` + `npm run demo` pair end to end without extra settings.
 */
export const DEV_UPSTREAM = { url: 'http://127.0.0.1:4010', apiKey: 'dev-upstream-key' };

export interface UpstreamSettings {
  /**
   * Unset (test and production; development defaults to DEV_UPSTREAM): submissions answer a
   * failure (502, `upstream_not_configured`) with a clear message.
   */
  url?: string;
  apiKey?: string;
  /**
   * One attempt's bound, from sending the request to the answer's last byte (an answer that
   * trickles in does not extend it). Default 100 s: a slow upstream (20 s, 60 s) is answered within the one
   * attempt, and the answer still reaches the fielded kiosk inside its 120 s acknowledgement wait
   * (the client also caps every attempt at that wait and at the session deadline).
   */
  timeoutMs: number;
  /** Extra attempts, only when the request provably did not arrive or a 503 said Retry-After. */
  retries: number;
}

function readUpstreamConfig(env: Env, app?: Pick<AppSettings, 'nodeEnv'>): UpstreamSettings {
  const v = validateEnv(UpstreamEnv, env);
  const devDefault = app?.nodeEnv === 'development' && v.UPSTREAM_URL === undefined;
  const apiKey = v.UPSTREAM_API_KEY ?? (devDefault ? DEV_UPSTREAM.apiKey : undefined);
  // never logged, nor relayed when the upstream echoes it back (privacy/upstream-answer.ts)
  if (apiKey) registerSecrets([apiKey], '[api key redacted]');
  return {
    url: devDefault ? DEV_UPSTREAM.url : v.UPSTREAM_URL?.replace(/\/+$/, ''),
    apiKey,
    timeoutMs: v.UPSTREAM_TIMEOUT_MS ?? 100_000,
    retries: v.UPSTREAM_RETRIES ?? 2,
  };
}

/** The face-matching service submissions are forwarded to. */
export const upstreamConfig = defineConfig('upstream', readUpstreamConfig);
