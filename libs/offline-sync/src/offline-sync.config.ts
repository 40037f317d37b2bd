import { defineConfig, Env, validateEnv, IsInt, IsOptional, Max, Min } from '@app/common';

class OfflineSyncEnv {
  @IsOptional() @IsInt() @Min(1) @Max(24 * 365) SYNC_MAX_OFFLINE_AGE_HOURS?: number;
  @IsOptional() @IsInt() @Min(1) @Max(5000) SYNC_MAX_PACKETS?: number;
}

/** Limits of one sync batch (the clock skew and token grace are device-trust's `offlineTokens`). */
export interface OfflineSyncSettings {
  maxOfflineAgeSeconds: number;
  maxPacketsPerBatch: number;
}

function readOfflineSyncConfig(env: Env): OfflineSyncSettings {
  const v = validateEnv(OfflineSyncEnv, env);
  return {
    maxOfflineAgeSeconds: (v.SYNC_MAX_OFFLINE_AGE_HOURS ?? 7 * 24) * 3600,
    maxPacketsPerBatch: v.SYNC_MAX_PACKETS ?? 500,
  };
}

export const offlineSyncConfig = defineConfig('offlineSync', readOfflineSyncConfig);
