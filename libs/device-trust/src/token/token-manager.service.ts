import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import {
  OFFLINE_TOKEN_ISSUER,
  OFFLINE_TOKEN_TYPE,
  OfflineTokenCheck,
  OfflineTokenClaims,
} from './offline-token';
import { SigningKeyService } from './signing-key.service';
import { Clock, sha256Hex } from '@app/common';
import { offlineTokenConfig, OfflineTokenSettings } from '../offline-token.config';

interface JwtHeader {
  alg: string;
  typ: string;
  kid: string;
}

interface JwtPayload {
  iss: string;
  sub: string;
  typ: string;
  deviceId: string;
  workerId: string;
  siteIds: string[];
  iat: number;
  nbf: number;
  exp: number;
  jti: string;
}

const MAX_TOKEN_LENGTH = 8192;

/**
 * Issues and checks offline tokens: compact JWS (ES256) that a phone carries while offline.
 * Anyone can check one with the JWKS; only this server can make one. Verification accepts
 * exactly ES256 with our key id and our token type (no `alg: none`, no HS256 confusion).
 */
@Injectable()
export class TokenManager {
  private readonly ttlSeconds: number;

  constructor(
    private readonly key: SigningKeyService,
    @Inject(offlineTokenConfig.KEY) settings: OfflineTokenSettings,
    private readonly clock: Clock,
  ) {
    this.ttlSeconds = settings.tokenTtlSeconds;
  }

  issue(
    subject: { deviceId: string; workerId: string; siteIds: string[] },
    now = this.clock.now(),
  ): { token: string; claims: OfflineTokenClaims } {
    const iat = Math.floor(now.getTime() / 1000);
    const payload: JwtPayload = {
      iss: OFFLINE_TOKEN_ISSUER,
      sub: subject.deviceId,
      typ: OFFLINE_TOKEN_TYPE,
      deviceId: subject.deviceId,
      workerId: subject.workerId,
      siteIds: [...subject.siteIds],
      iat,
      nbf: iat,
      exp: iat + this.ttlSeconds,
      jti: randomUUID(),
    };
    const header: JwtHeader = { alg: 'ES256', typ: 'JWT', kid: this.key.kid };
    const signingInput = `${b64json(header)}.${b64json(payload)}`;
    const token = `${signingInput}.${this.key.sign(signingInput, new Date(iat * 1000)).toString('base64url')}`;
    return { token, claims: toClaims(payload, header.kid, signingInput) };
  }

  /** Checks signature, type and window (with `skewSeconds` of tolerance at both ends). */
  verify(token: string, now = this.clock.now(), skewSeconds = 0): OfflineTokenCheck {
    if (token.length > MAX_TOKEN_LENGTH) return { ok: false, failure: 'malformed' };
    const parts = token.split('.');
    if (parts.length !== 3) return { ok: false, failure: 'malformed' };
    const header = parseJson(parts[0]) as Partial<JwtHeader> | undefined;
    const payload = parseJson(parts[1]) as Partial<JwtPayload> | undefined;
    if (!header || !payload) return { ok: false, failure: 'malformed' };
    if (header.alg !== 'ES256' || typeof header.kid !== 'string' || !this.key.knows(header.kid)) {
      return { ok: false, failure: 'bad_signature' };
    }
    const signature = Buffer.from(parts[2], 'base64url');
    // a retired key verifies only tokens issued inside its window (iat), so a stolen old key
    // cannot mint new tokens
    const issuedAt = new Date(Number(payload.iat) * 1000);
    const signed = this.key.verifyBy(header.kid, `${parts[0]}.${parts[1]}`, signature, issuedAt);
    if (signed !== true) return { ok: false, failure: signed };
    if (payload.typ !== OFFLINE_TOKEN_TYPE || payload.iss !== OFFLINE_TOKEN_ISSUER) {
      return { ok: false, failure: 'wrong_type' };
    }
    if (!isWellFormed(payload)) return { ok: false, failure: 'malformed' };
    const seconds = now.getTime() / 1000;
    if (seconds + skewSeconds < payload.nbf) return { ok: false, failure: 'not_yet_valid' };
    if (seconds - skewSeconds >= payload.exp) return { ok: false, failure: 'expired' };
    return { ok: true, claims: toClaims(payload, header.kid, `${parts[0]}.${parts[1]}`) };
  }
}

function isWellFormed(p: Partial<JwtPayload>): p is JwtPayload {
  return (
    typeof p.deviceId === 'string' &&
    typeof p.workerId === 'string' &&
    Array.isArray(p.siteIds) &&
    p.siteIds.every((s) => typeof s === 'string') &&
    Number.isFinite(p.iat) &&
    Number.isFinite(p.nbf) &&
    Number.isFinite(p.exp) &&
    // the lifetime we issue: valid from its issuing for at most the longest TTL there can be
    // (a key's window bounds when a token was issued; this bounds how long it then lasts, so
    // a retired key, stolen, cannot mint a token that lasts beyond its window)
    p.nbf === p.iat &&
    p.exp! > p.iat! &&
    p.exp! - p.iat! <= MAX_TOKEN_LIFETIME_SECONDS &&
    typeof p.jti === 'string'
  );
}

/** OFFLINE_TOKEN_TTL_DAYS at its most (365 days): no token we issue lasts longer. */
const MAX_TOKEN_LIFETIME_SECONDS = 365 * 86_400;

function toClaims(p: JwtPayload, kid: string, signingInput: string): OfflineTokenClaims {
  return {
    deviceId: p.deviceId,
    workerId: p.workerId,
    siteIds: p.siteIds,
    notBefore: new Date(p.nbf * 1000),
    expiresAt: new Date(p.exp * 1000),
    tokenId: p.jti,
    keyId: kid,
    digest: sha256Hex(signingInput),
  };
}

function b64json(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

function parseJson(part: string): object | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(part)) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return value && typeof value === 'object' && !Array.isArray(value) ? value : undefined;
  } catch {
    return undefined;
  }
}
