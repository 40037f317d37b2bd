import { IsIn, IsInt, IsOptional, IsString, Matches, Max, Min } from 'class-validator';
import { resolve } from 'node:path';
import { Env, validateEnv } from './env-schema';

export type NodeEnv = 'development' | 'production' | 'test';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

class AppEnv {
  @IsOptional() @IsIn(['development', 'production', 'test']) NODE_ENV?: NodeEnv;
  @IsOptional() @IsInt() @Min(0) @Max(65535) PORT?: number;
  @IsOptional() @IsString() DATA_DIR?: string;
  @IsOptional() @IsString() UPLOADS_DIR?: string;
  @IsOptional()
  @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  LOG_LEVEL?: LogLevel;
  @IsOptional()
  @Matches(/^wss?:\/\/[^\s]+$/, { message: 'must be a ws:// or wss:// URL' })
  PUBLIC_WS_URL?: string;
  @IsOptional() @IsInt() @Min(1024) @Max(64 * 1024 * 1024) JSON_BODY_LIMIT_BYTES?: number;
  @IsOptional() @IsInt() @Min(0) @Max(120_000) SHUTDOWN_GRACE_MS?: number;
  @IsOptional() @IsInt() @Min(2) @Max(256) JSON_MAX_DEPTH?: number;
  @IsOptional() @IsInt() @Min(10) @Max(1_000_000) JSON_MAX_KEYS?: number;
  @IsOptional() @IsInt() @Min(64) @Max(64 * 1024 * 1024) JSON_MAX_STRING_LENGTH?: number;
  @IsOptional() @IsInt() @Min(0) HEALTH_MIN_FREE_BYTES?: number;
}

export interface AppSettings {
  nodeEnv: NodeEnv;
  production: boolean;
  port: number;
  dataDir: string;
  uploadsDir: string;
  logLevel: LogLevel;
  /** Base of the WebSocket URLs put in QR payloads; derived from the request host when unset. */
  publicWsUrl?: string;
  jsonBodyLimitBytes: number;
  /** I-JSON limits checked on every JSON body before anything else reads it. */
  jsonLimits: { maxDepth: number; maxKeys: number; maxStringLength: number };
  /** Below this many free bytes under DATA_DIR, /health reports the disk as degraded (down). */
  healthMinFreeBytes: number;
  shutdownGraceMs: number;
}

export function appConfig(env: Env): AppSettings {
  const v = validateEnv(AppEnv, env);
  const nodeEnv = v.NODE_ENV ?? 'development';
  const dataDir = resolve(v.DATA_DIR ?? './data');
  return {
    nodeEnv,
    production: nodeEnv === 'production',
    port: v.PORT ?? 3000,
    dataDir,
    uploadsDir: resolve(v.UPLOADS_DIR ?? resolve(dataDir, 'uploads')),
    logLevel: v.LOG_LEVEL ?? (nodeEnv === 'test' ? 'silent' : 'info'),
    publicWsUrl: v.PUBLIC_WS_URL?.replace(/\/+$/, ''),
    jsonBodyLimitBytes: v.JSON_BODY_LIMIT_BYTES ?? 1024 * 1024,
    jsonLimits: {
      maxDepth: v.JSON_MAX_DEPTH ?? 32,
      maxKeys: v.JSON_MAX_KEYS ?? 20_000,
      maxStringLength: v.JSON_MAX_STRING_LENGTH ?? 65_536,
    },
    healthMinFreeBytes: v.HEALTH_MIN_FREE_BYTES ?? 64 * 1024 * 1024,
    shutdownGraceMs: v.SHUTDOWN_GRACE_MS ?? 10_000,
  };
}
