import { availableParallelism } from 'node:os';
import { defineConfig, Env, validateEnv, IsIn, IsInt, IsOmittable, Max, Min } from '@app/common';

class OfflineSyncEnv {
  @IsOmittable() @IsInt() @Min(1) @Max(24 * 365) SYNC_MAX_OFFLINE_AGE_HOURS?: number;
  @IsOmittable() @IsInt() @Min(1) @Max(5000) SYNC_MAX_PACKETS?: number;
  @IsOmittable() @IsInt() @Min(0) @Max(64) SYNC_VERIFY_WORKERS?: number;
  @IsOmittable() @IsInt() @Min(1) @Max(10_000) SYNC_VERIFY_QUEUE?: number;
  @IsOmittable() @IsIn(['0', '1']) SYNC_APPEND_THREAD?: '0' | '1';
}

/** Limits of one sync batch (the clock skew and token grace are device-trust's `offlineTokens`). */
export interface OfflineSyncSettings {
  maxOfflineAgeSeconds: number;
  maxPacketsPerBatch: number;
  /** Worker threads checking packets' shape and HMAC (`PacketCheckPool`); 0: the request's thread. */
  verifyWorkers: number;
  /** Chunks waiting for a verify thread at most; beyond, a chunk is checked in the request's thread. */
  verifyQueue: number;
  /**
   * SQLite: the ledger's appends on a thread of their own with its own connection
   * (`SqliteAppendThread`); false: in the request's thread. MongoDB: not used.
   */
  appendThread: boolean;
}

/**
 * One thread per core on more than two cores; on one or two the checks stay in the request's
 * thread. A 500-packet batch's checks cost the event loop ~1 ms there, and ~2 ms less CPU in
 * all than on two threads (the chunks' texts posted and parsed again, the answers posted back,
 * two more isolates' GC: docs/benchmarks.md, syncthreads): on two cores the API's threads and
 * its clients share both, and what a batch costs in all is what limits the packets per second.
 */
export function defaultVerifyWorkers(cores = availableParallelism()): number {
  return cores > 2 ? cores : 0;
}

/** A thread of its own for the ledger's SQLite appends when there is a second core to run it. */
export function defaultAppendThread(): boolean {
  return availableParallelism() > 1;
}

function readOfflineSyncConfig(env: Env): OfflineSyncSettings {
  const v = validateEnv(OfflineSyncEnv, env);
  return {
    maxOfflineAgeSeconds: (v.SYNC_MAX_OFFLINE_AGE_HOURS ?? 7 * 24) * 3600,
    maxPacketsPerBatch: v.SYNC_MAX_PACKETS ?? 500,
    verifyWorkers: v.SYNC_VERIFY_WORKERS ?? defaultVerifyWorkers(),
    verifyQueue: v.SYNC_VERIFY_QUEUE ?? 64,
    appendThread:
      v.SYNC_APPEND_THREAD === undefined ? defaultAppendThread() : v.SYNC_APPEND_THREAD === '1',
  };
}

export const offlineSyncConfig = defineConfig('offlineSync', readOfflineSyncConfig);
