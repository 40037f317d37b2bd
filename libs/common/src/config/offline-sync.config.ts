import { IsInt, IsOptional, IsString, Max, Min } from 'class-validator';
import { createPrivateKey, generateKeyPairSync, KeyObject } from 'node:crypto';
import { ConfigError } from './config-error';
import { defineConfig } from './config-namespace';
import { Env, validateEnv } from './env-schema';
import { parseKeyHistory, RetiredKey } from './key-history';

class OfflineSyncEnv {
  @IsString() OFFLINE_TOKEN_PRIVATE_KEY!: string;
  @IsOptional() @IsString() OFFLINE_TOKEN_RETIRED_KEYS?: string;
  @IsOptional() @IsInt() @Min(1) @Max(365) OFFLINE_TOKEN_TTL_DAYS?: number;
  @IsOptional() @IsInt() @Min(0) @Max(90) OFFLINE_TOKEN_GRACE_DAYS?: number;
  @IsOptional() @IsInt() @Min(1) @Max(24 * 365) SYNC_MAX_OFFLINE_AGE_HOURS?: number;
  @IsOptional() @IsInt() @Min(0) @Max(3600) SYNC_MAX_CLOCK_SKEW_SECONDS?: number;
  @IsOptional() @IsInt() @Min(1) @Max(5000) SYNC_MAX_PACKETS?: number;
  @IsOptional() @IsInt() @Min(1) @Max(24 * 90) ENROLLMENT_CODE_TTL_HOURS?: number;
}

export interface OfflineSyncSettings {
  /** P-256 private key that signs offline tokens (ES256). */
  signingKey: KeyObject;
  /** Earlier token keys: tokens they issued inside their window still verify. */
  retiredKeys: RetiredKey[];
  tokenTtlSeconds: number;
  /** After a token expires, packets recorded inside its window still sync for this long. */
  tokenGraceSeconds: number;
  maxOfflineAgeSeconds: number;
  maxClockSkewSeconds: number;
  maxPacketsPerBatch: number;
  enrollmentCodeTtlSeconds: number;
}

/** A fresh P-256 private key as PKCS#8 PEM (what OFFLINE_TOKEN_PRIVATE_KEY holds). */
export function generateOfflineTokenKey(): string {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' })
    .privateKey.export({ type: 'pkcs8', format: 'pem' })
    .toString();
}

function readOfflineSyncConfig(env: Env): OfflineSyncSettings {
  const v = validateEnv(OfflineSyncEnv, env);
  let signingKey: KeyObject;
  try {
    // env files cannot hold newlines: accept a PEM written on one line with \n escapes
    signingKey = createPrivateKey({
      key: v.OFFLINE_TOKEN_PRIVATE_KEY.replace(/\\n/g, '\n'),
      format: 'pem',
    });
  } catch {
    throw new ConfigError('OFFLINE_TOKEN_PRIVATE_KEY', 'must be a PEM private key');
  }
  if (
    signingKey.asymmetricKeyType !== 'ec' ||
    signingKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1'
  ) {
    throw new ConfigError('OFFLINE_TOKEN_PRIVATE_KEY', 'must be an EC P-256 key (ES256)');
  }
  return {
    signingKey,
    retiredKeys: parseKeyHistory('OFFLINE_TOKEN_RETIRED_KEYS', v.OFFLINE_TOKEN_RETIRED_KEYS, 'ec'),
    tokenTtlSeconds: (v.OFFLINE_TOKEN_TTL_DAYS ?? 30) * 86_400,
    tokenGraceSeconds: (v.OFFLINE_TOKEN_GRACE_DAYS ?? 14) * 86_400,
    maxOfflineAgeSeconds: (v.SYNC_MAX_OFFLINE_AGE_HOURS ?? 7 * 24) * 3600,
    maxClockSkewSeconds: v.SYNC_MAX_CLOCK_SKEW_SECONDS ?? 300,
    maxPacketsPerBatch: v.SYNC_MAX_PACKETS ?? 500,
    enrollmentCodeTtlSeconds: (v.ENROLLMENT_CODE_TTL_HOURS ?? 7 * 24) * 3600,
  };
}

export const offlineSyncConfig = defineConfig('offlineSync', readOfflineSyncConfig);
