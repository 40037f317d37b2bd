import { availableParallelism } from 'node:os';
import { defineConfig, Env, validateEnv, IsInt, IsOptional, Max, Min } from '@app/common';

class OfflineSyncEnv {
  @IsOptional() @IsInt() @Min(1) @Max(24 * 365) SYNC_MAX_OFFLINE_AGE_HOURS?: number;
  @IsOptional() @IsInt() @Min(1) @Max(5000) SYNC_MAX_PACKETS?: number;
  @IsOptional() @IsInt() @Min(0) @Max(64) SYNC_VERIFY_WORKERS?: number;
  @IsOptional() @IsInt() @Min(1) @Max(10_000) SYNC_VERIFY_QUEUE?: number;
}

/** Limits of one sync batch (the clock skew and token grace are device-trust's `offlineTokens`). */
export interface OfflineSyncSettings {
  maxOfflineAgeSeconds: number;
  maxPacketsPerBatch: number;
  /** Worker threads checking packets' shape and HMAC (`PacketCheckPool`); 0: the request's thread. */
  verifyWorkers: number;
  /** Chunks waiting for a verify thread at most; beyond, a chunk is checked in the request's thread. */
  verifyQueue: number;
}

/** One thread per core; on a single core the checks stay in the request's thread. */
function defaultVerifyWorkers(): number {
  const cores = availableParallelism();
  return cores > 1 ? cores : 0;
}

function readOfflineSyncConfig(env: Env): OfflineSyncSettings {
  const v = validateEnv(OfflineSyncEnv, env);
  return {
    maxOfflineAgeSeconds: (v.SYNC_MAX_OFFLINE_AGE_HOURS ?? 7 * 24) * 3600,
    maxPacketsPerBatch: v.SYNC_MAX_PACKETS ?? 500,
    verifyWorkers: v.SYNC_VERIFY_WORKERS ?? defaultVerifyWorkers(),
    verifyQueue: v.SYNC_VERIFY_QUEUE ?? 64,
  };
}

export const offlineSyncConfig = defineConfig('offlineSync', readOfflineSyncConfig);
