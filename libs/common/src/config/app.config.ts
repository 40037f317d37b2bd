import { IsIn, IsInt, IsString, Matches, Max, Min } from '../validation/validators';
import { IsOmittable } from '../validation/omittable';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { ConfigError, ConfigProblems } from './config-error';
import { defineConfig } from './config-namespace';
import { checkEnv, Env } from './env-schema';

export type NodeEnv = 'development' | 'production' | 'test';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

class AppEnv {
  @IsOmittable() @IsIn(['development', 'production', 'test']) NODE_ENV?: NodeEnv;
  @IsOmittable() @IsInt() @Min(0) @Max(65535) PORT?: number;
  @IsOmittable() @IsString() HOST?: string;
  @IsOmittable() @IsString() DATA_DIR?: string;
  @IsOmittable() @IsString() UPLOADS_DIR?: string;
  @IsOmittable()
  @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  LOG_LEVEL?: LogLevel;
  @IsOmittable()
  @Matches(/^https?:\/\/[^\s/?#]+(\/[^\s?#]*)?$/, {
    message: 'must be an http:// or https:// URL without query or fragment',
  })
  PUBLIC_URL?: string;
  @IsOmittable() @IsString() TRUST_PROXY?: string;
  @IsOmittable() @IsInt() @Min(1024) @Max(64 * 1024 * 1024) JSON_BODY_LIMIT_BYTES?: number;
  @IsOmittable() @IsInt() @Min(0) @Max(120_000) SHUTDOWN_GRACE_MS?: number;
  @IsOmittable() @IsInt() @Min(100) @Max(600_000) HTTP_BODY_IDLE_TIMEOUT_MS?: number;
  @IsOmittable() @IsInt() @Min(100) @Max(600_000) HTTP_JSON_BODY_TIMEOUT_MS?: number;
  @IsOmittable()
  @IsInt()
  @Min(1)
  @Max(1024 * 1024 * 1024)
  HTTP_BODY_MIN_RATE_BYTES_PER_SEC?: number;
  @IsOmittable() @IsString() CONSOLE_DIR?: string;
  @IsOmittable() @IsInt() @Min(2) @Max(256) JSON_MAX_DEPTH?: number;
  @IsOmittable() @IsInt() @Min(10) @Max(1_000_000) JSON_MAX_KEYS?: number;
  @IsOmittable() @IsInt() @Min(64) @Max(64 * 1024 * 1024) JSON_MAX_STRING_LENGTH?: number;
  @IsOmittable() @IsInt() @Min(0) HEALTH_MIN_FREE_BYTES?: number;
}

export interface AppSettings {
  nodeEnv: NodeEnv;
  production: boolean;
  port: number;
  /** The address the server listens on (HOST, an IP address); undefined: every interface. */
  host?: string;
  dataDir: string;
  uploadsDir: string;
  logLevel: LogLevel;
  /**
   * Public base URL of the API as clients reach it (behind the proxy), no trailing slash: the
   * base of every absolute URL the server hands out (http→ws for WebSocket URLs). Required in
   * production; outside it, derived from each request (Host / X-Forwarded-*) when unset.
   */
  publicUrl?: string;
  /** Express `trust proxy`: which peers' X-Forwarded-* are believed (so `req.ip` is the client's). */
  trustProxy: boolean | number | string;
  jsonBodyLimitBytes: number;
  /** I-JSON limits checked on every JSON body before anything else reads it. */
  jsonLimits: { maxDepth: number; maxKeys: number; maxStringLength: number };
  /**
   * A request body that stops arriving: no byte for `idleMs` (any body, vault uploads included:
   * a slow upload that keeps moving is never cut), or a JSON body not whole `jsonTotalMs` after
   * its headers, is answered 408 `request_timeout` and its connection closed.
   */
  bodyTimeouts: { idleMs: number; jsonTotalMs: number; minRateBytesPerSec: number };
  /** Below this many free bytes under DATA_DIR, /health reports the disk as degraded (down). */
  healthMinFreeBytes: number;
  shutdownGraceMs: number;
  /** The built operator console (`npm run build` writes it), served at /console. */
  consoleDir: string;
}

function readAppConfig(env: Env): AppSettings {
  const problems = new ConfigProblems();
  const settings = readAppSettings(env, problems);
  problems.throwIfAny();
  return settings;
}

/**
 * Reads the `app` namespace without stopping at a bad variable: each is recorded in `problems`
 * and its default used, so boot can go on to check the other namespaces (they depend on
 * NODE_ENV and DATA_DIR) and name every bad variable at once.
 */
export function readAppSettings(env: Env, problems: ConfigProblems): AppSettings {
  const checked = checkEnv(AppEnv, env);
  problems.add(checked.problems);
  const v = checked.values;
  const nodeEnv = v.NODE_ENV ?? 'development';
  const dataDir = resolve(v.DATA_DIR ?? './data');
  return {
    nodeEnv,
    production: nodeEnv === 'production',
    port: v.PORT ?? 3000,
    host: problems.attempt(() => listenHost(v.HOST)),
    dataDir,
    uploadsDir: resolve(v.UPLOADS_DIR ?? resolve(dataDir, 'uploads')),
    logLevel: v.LOG_LEVEL ?? (nodeEnv === 'test' ? 'silent' : 'info'),
    publicUrl: problems.attempt(() => publicUrl(v.PUBLIC_URL, nodeEnv === 'production')),
    trustProxy: problems.attempt(() => trustProxy(v.TRUST_PROXY)) ?? DEFAULT_TRUST_PROXY,
    jsonBodyLimitBytes: v.JSON_BODY_LIMIT_BYTES ?? 1024 * 1024,
    jsonLimits: {
      maxDepth: v.JSON_MAX_DEPTH ?? 32,
      maxKeys: v.JSON_MAX_KEYS ?? 20_000,
      maxStringLength: v.JSON_MAX_STRING_LENGTH ?? 65_536,
    },
    bodyTimeouts: {
      idleMs: v.HTTP_BODY_IDLE_TIMEOUT_MS ?? 30_000,
      jsonTotalMs: v.HTTP_JSON_BODY_TIMEOUT_MS ?? 60_000,
      minRateBytesPerSec: v.HTTP_BODY_MIN_RATE_BYTES_PER_SEC ?? 8192,
    },
    healthMinFreeBytes: v.HEALTH_MIN_FREE_BYTES ?? 64 * 1024 * 1024,
    shutdownGraceMs: v.SHUTDOWN_GRACE_MS ?? 10_000,
    consoleDir: resolve(v.CONSOLE_DIR ?? './dist/console'),
  };
}

/**
 * The cross-cutting basics every module may read (NODE_ENV, port, DATA_DIR, public URL, body
 * limits): read first, as the other namespaces may depend on it.
 */
export const appConfig = defineConfig('app', readAppConfig);

/** HOST: an IPv4 or IPv6 address (unset or empty: every interface, as Node listens by default). */
function listenHost(value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (isIP(value) === 0) {
    throw new ConfigError(
      'HOST',
      'must be an IP address to listen on (e.g. 127.0.0.1, ::1; unset: every interface)',
    );
  }
  return value;
}

function publicUrl(value: string | undefined, production: boolean): string | undefined {
  if (value === undefined) {
    if (production) {
      throw new ConfigError(
        'PUBLIC_URL',
        'is required when NODE_ENV=production (the URL clients use, e.g. https://mdai.example.org)',
      );
    }
    return undefined;
  }
  try {
    new URL(value);
  } catch {
    throw new ConfigError('PUBLIC_URL', 'is not a valid URL');
  }
  return value.replace(/\/+$/, '');
}

/**
 * Default: trust a proxy on this host only. Trusting every private address (as this once did)
 * let any client on a private network that reaches the API directly, or through a proxy,
 * choose its own `req.ip` with X-Forwarded-For (per-IP rate limits, audit addresses). A
 * deployment behind a proxy says which (docker-compose.yml: nginx's fixed address).
 */
const DEFAULT_TRUST_PROXY = 'loopback';

const PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/**
 * `false` (use the socket address), a hop count (`1`: exactly one proxy in front), or a
 * comma-separated list of names (loopback, linklocal, uniquelocal), addresses and subnets whose
 * X-Forwarded-For is believed. `true` is refused: it would let any client choose its own `req.ip`.
 */
function trustProxy(value: string | undefined): boolean | number | string {
  if (value === undefined) return DEFAULT_TRUST_PROXY;
  if (value === 'false') return false;
  if (/^\d{1,2}$/.test(value)) return Number(value);
  const entries = value.split(',').map((entry) => entry.trim());
  const valid = entries.every((entry) => {
    if (PROXY_NAMES.has(entry)) return true;
    const [address, prefix, extra] = entry.split('/');
    if (extra !== undefined || isIP(address) === 0) return false;
    return prefix === undefined || /^\d{1,3}$/.test(prefix);
  });
  if (!valid) {
    throw new ConfigError(
      'TRUST_PROXY',
      'must be false, a hop count, or a comma-separated list of loopback, linklocal, uniquelocal, addresses and subnets',
    );
  }
  return entries.join(', ');
}

/** The WebSocket form of an http(s) base URL (http → ws, https → wss). */
export function toWebSocketUrl(httpUrl: string): string {
  return httpUrl.replace(/^http/, 'ws');
}
