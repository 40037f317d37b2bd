import { Inject, Injectable } from '@nestjs/common';
import { createPublicKey, JsonWebKey, KeyObject, sign, verify } from 'node:crypto';
import { sha256Hex } from '@app/common';
import { offlineTokenConfig, OfflineTokenSettings } from '../offline-token.config';

export interface PublicJwk extends JsonWebKey {
  kid: string;
  alg: 'ES256';
  use: 'sig';
  /** Not in RFC 7517: `active`, or `retired` (verifies only what it signed inside its window). */
  status: 'active' | 'retired';
  /** ISO-8601 start of the signing window (absent: since the beginning). */
  notBefore?: string;
  /** ISO-8601 end of the signing window (absent for the active key). */
  notAfter?: string;
}

interface VerificationKey {
  kid: string;
  publicKey: KeyObject;
  notBefore?: Date;
  notAfter?: Date;
}

/**
 * The ES256 (P-256) key pair from OFFLINE_TOKEN_PRIVATE_KEY that signs offline tokens, and the
 * retired keys of OFFLINE_TOKEN_RETIRED_KEYS (key history, written by `npm run keys:rotate`).
 * All are published as a JWKS so phones and auditors can check tokens without asking the
 * server. Key ids are derived from the public keys.
 */
@Injectable()
export class SigningKeyService {
  private readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly kid: string;
  private readonly retired: VerificationKey[];

  constructor(@Inject(offlineTokenConfig.KEY) settings: OfflineTokenSettings) {
    this.privateKey = settings.signingKey;
    this.publicKey = createPublicKey(this.privateKey);
    this.kid = kidOf(this.publicKey);
    this.retired = settings.retiredKeys.map((k) => ({
      kid: kidOf(k.publicKey),
      publicKey: k.publicKey,
      notBefore: k.notBefore,
      notAfter: k.notAfter,
    }));
  }

  /** ES256 signature in JOSE form (r‖s, 64 bytes). */
  sign(data: string | Buffer): Buffer {
    return sign('sha256', Buffer.from(data), { key: this.privateKey, dsaEncoding: 'ieee-p1363' });
  }

  /** Checks a signature by the active key. */
  verify(data: string | Buffer, signature: Buffer): boolean {
    return check(this.publicKey, data, signature);
  }

  /**
   * Checks a signature by the key `kid`: the active key, or a retired key when `signedAt`
   * falls inside its window (a retired key verifies nothing it could have signed later).
   */
  verifyBy(kid: string, data: string | Buffer, signature: Buffer, signedAt: Date): boolean {
    if (kid === this.kid) return check(this.publicKey, data, signature);
    const key = this.retired.find((k) => k.kid === kid);
    const at = signedAt.getTime();
    if (
      !key ||
      Number.isNaN(at) ||
      (key.notBefore && at < key.notBefore.getTime()) ||
      (key.notAfter && at > key.notAfter.getTime())
    ) {
      return false;
    }
    return check(key.publicKey, data, signature);
  }

  knows(kid: string): boolean {
    return kid === this.kid || this.retired.some((k) => k.kid === kid);
  }

  jwks(): { keys: PublicJwk[] } {
    const since = this.retired.reduce<Date | undefined>(
      (latest, k) => (!latest || (k.notAfter && k.notAfter > latest) ? k.notAfter : latest),
      undefined,
    );
    return {
      keys: [
        toJwk({ kid: this.kid, publicKey: this.publicKey, notBefore: since }, 'active'),
        ...this.retired.map((k) => toJwk(k, 'retired')),
      ],
    };
  }
}

function kidOf(publicKey: KeyObject): string {
  return sha256Hex(publicKey.export({ type: 'spki', format: 'der' })).slice(0, 16);
}

function check(key: KeyObject, data: string | Buffer, signature: Buffer): boolean {
  if (signature.length !== 64) return false;
  return verify('sha256', Buffer.from(data), { key, dsaEncoding: 'ieee-p1363' }, signature);
}

function toJwk(k: VerificationKey, status: PublicJwk['status']): PublicJwk {
  return {
    ...k.publicKey.export({ format: 'jwk' }),
    kid: k.kid,
    alg: 'ES256',
    use: 'sig',
    status,
    notBefore: k.notBefore?.toISOString(),
    notAfter: k.notAfter?.toISOString(),
  };
}
