import { createPrivateKey, generateKeyPairSync, KeyObject } from 'node:crypto';
import {
  ConfigError,
  defineConfig,
  Env,
  parseKeyHistory,
  refuseRetiredSigningKey,
  RetiredKey,
  validateEnv,
  IsInt,
  IsOmittable,
  IsString,
  Max,
  Min,
} from '@app/common';

class OfflineTokenEnv {
  @IsString() OFFLINE_TOKEN_PRIVATE_KEY!: string;
  @IsOmittable() @IsString() OFFLINE_TOKEN_RETIRED_KEYS?: string;
  @IsOmittable() @IsInt() @Min(1) @Max(365) OFFLINE_TOKEN_TTL_DAYS?: number;
  @IsOmittable() @IsInt() @Min(0) @Max(90) OFFLINE_TOKEN_GRACE_DAYS?: number;
  @IsOmittable() @IsInt() @Min(0) @Max(3600) SYNC_MAX_CLOCK_SKEW_SECONDS?: number;
  @IsOmittable() @IsInt() @Min(2) @Max(1000) OFFLINE_TOKEN_RECORDS_PER_DEVICE?: number;
}

/** The offline tokens worker devices carry, and how far a device's clock may be trusted. */
export interface OfflineTokenSettings {
  /** P-256 private key that signs offline tokens (ES256). */
  signingKey: KeyObject;
  /** Earlier token keys: tokens they issued inside their window still verify. */
  retiredKeys: RetiredKey[];
  tokenTtlSeconds: number;
  /** After a token expires, packets recorded inside its window still sync for this long. */
  tokenGraceSeconds: number;
  /**
   * How far a worker device's clock may be from the server's: tolerated before the start of a
   * token's window (its `iat`), around a refresh timestamp and ahead of a packet's recorded
   * time (offline sync and timesheet corrections read it here).
   */
  maxClockSkewSeconds: number;
  /**
   * The most token records one device keeps (OFFLINE_TOKEN_RECORDS_PER_DEVICE): past it, an
   * issue drops the device's oldest records that no sync presented, then its oldest presented
   * ones (IssuedTokens).
   */
  recordsPerDevice: number;
}

/** A fresh P-256 private key as PKCS#8 PEM (what OFFLINE_TOKEN_PRIVATE_KEY holds). */
export function generateOfflineTokenKey(): string {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' })
    .privateKey.export({ type: 'pkcs8', format: 'pem' })
    .toString();
}

function readOfflineTokenConfig(env: Env): OfflineTokenSettings {
  const v = validateEnv(OfflineTokenEnv, env);
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
  const retiredKeys = parseKeyHistory(
    'OFFLINE_TOKEN_RETIRED_KEYS',
    v.OFFLINE_TOKEN_RETIRED_KEYS,
    'ec',
  );
  refuseRetiredSigningKey(
    {
      key: 'OFFLINE_TOKEN_PRIVATE_KEY',
      history: 'OFFLINE_TOKEN_RETIRED_KEYS',
      signs: 'offline tokens',
    },
    signingKey,
    retiredKeys,
  );
  return {
    signingKey,
    retiredKeys,
    tokenTtlSeconds: (v.OFFLINE_TOKEN_TTL_DAYS ?? 30) * 86_400,
    tokenGraceSeconds: (v.OFFLINE_TOKEN_GRACE_DAYS ?? 14) * 86_400,
    maxClockSkewSeconds: v.SYNC_MAX_CLOCK_SKEW_SECONDS ?? 300,
    recordsPerDevice: v.OFFLINE_TOKEN_RECORDS_PER_DEVICE ?? 20,
  };
}

export const offlineTokenConfig = defineConfig('offlineTokens', readOfflineTokenConfig);

/** How a local (non-production) install generates the token key when it is unset. */
export const OFFLINE_TOKEN_SECRETS = {
  OFFLINE_TOKEN_PRIVATE_KEY: generateOfflineTokenKey,
} satisfies Record<string, () => string>;
