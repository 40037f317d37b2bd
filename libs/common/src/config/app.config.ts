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
  @IsOptional() @IsString() CONSOLE_DIR?: string;
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
  shutdownGraceMs: number;
  /** The built operator console (`npm run build` writes it), served at /console. */
  consoleDir: string;
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
    shutdownGraceMs: v.SHUTDOWN_GRACE_MS ?? 10_000,
    consoleDir: resolve(v.CONSOLE_DIR ?? './dist/console'),
  };
}
