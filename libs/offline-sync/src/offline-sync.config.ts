import { availableParallelism } from 'node:os';
import {
  AppSettings,
  ConfigError,
  defineConfig,
  Env,
  validateEnv,
  IsIn,
  IsInt,
  IsOmittable,
  Max,
  Min,
} from '@app/common';
import {
  largestPacketJsonBytes,
  PACKET_JSON_KEYS,
  SYNC_BODY_ENVELOPE,
} from './domain/packet-bounds';

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

/** One thread per core; on a single core the checks stay in the request's thread. */
function defaultVerifyWorkers(): number {
  const cores = availableParallelism();
  return cores > 1 ? cores : 0;
}

/** A thread of its own for the ledger's SQLite appends when there is a second core to run it. */
export function defaultAppendThread(): boolean {
  return availableParallelism() > 1;
}

/** The body limits a full batch must fit in (`AppSettings`: JSON_BODY_LIMIT_BYTES, JSON_MAX_KEYS). */
type BodyLimits = Pick<AppSettings, 'jsonBodyLimitBytes' | 'jsonLimits'>;

/**
 * A batch of SYNC_MAX_PACKETS packets must fit in the JSON body the body pipeline takes: one
 * that does not would be refused whole, 413 `payload_too_large` (or 400 `too_many_keys`), below
 * the packet count the phone is told it may send (the 413 `too_many_packets` naming the limit).
 * Each packet counted at its largest well-formed size as compact JSON (`largestPacketJsonBytes`)
 * and at its object members (`PACKET_JSON_KEYS`). Refused at boot, naming what to change.
 */
function checkBatchFitsBody(maxPackets: number, app: BodyLimits): void {
  const packetBytes = largestPacketJsonBytes();
  const needBytes = SYNC_BODY_ENVELOPE.bytes + maxPackets * packetBytes;
  const needKeys = SYNC_BODY_ENVELOPE.keys + maxPackets * PACKET_JSON_KEYS;
  const problems: string[] = [];
  let fits = maxPackets;
  if (needBytes > app.jsonBodyLimitBytes) {
    problems.push(
      `a batch of ${maxPackets} packets of up to ${packetBytes} bytes each needs a body of ${needBytes} bytes, over JSON_BODY_LIMIT_BYTES (${app.jsonBodyLimitBytes}): raise JSON_BODY_LIMIT_BYTES to at least ${needBytes}`,
    );
    fits = Math.floor((app.jsonBodyLimitBytes - SYNC_BODY_ENVELOPE.bytes) / packetBytes);
  }
  if (needKeys > app.jsonLimits.maxKeys) {
    problems.push(
      `a batch of ${maxPackets} packets of ${PACKET_JSON_KEYS} object members each has ${needKeys} members, over JSON_MAX_KEYS (${app.jsonLimits.maxKeys}): raise JSON_MAX_KEYS to at least ${needKeys}`,
    );
    fits = Math.min(
      fits,
      Math.floor((app.jsonLimits.maxKeys - SYNC_BODY_ENVELOPE.keys) / PACKET_JSON_KEYS),
    );
  }
  if (problems.length === 0) return;
  throw new ConfigError(
    'SYNC_MAX_PACKETS',
    `${problems.join('; ')}; or lower SYNC_MAX_PACKETS to at most ${Math.max(fits, 0)}`,
  );
}

function readOfflineSyncConfig(env: Env, app: BodyLimits): OfflineSyncSettings {
  const v = validateEnv(OfflineSyncEnv, env);
  const maxPacketsPerBatch = v.SYNC_MAX_PACKETS ?? 500;
  checkBatchFitsBody(maxPacketsPerBatch, app);
  return {
    maxOfflineAgeSeconds: (v.SYNC_MAX_OFFLINE_AGE_HOURS ?? 7 * 24) * 3600,
    maxPacketsPerBatch,
    verifyWorkers: v.SYNC_VERIFY_WORKERS ?? defaultVerifyWorkers(),
    verifyQueue: v.SYNC_VERIFY_QUEUE ?? 64,
    appendThread:
      v.SYNC_APPEND_THREAD === undefined ? defaultAppendThread() : v.SYNC_APPEND_THREAD === '1',
  };
}

export const offlineSyncConfig = defineConfig('offlineSync', readOfflineSyncConfig);
