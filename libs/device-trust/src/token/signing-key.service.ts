import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { createPublicKey, JsonWebKey, KeyObject, sign, verify } from 'node:crypto';
import { activeKeySince, MetricsRegistry, RetiredKeyWatch, sha256Hex } from '@app/common';
import { offlineTokenConfig, OfflineTokenSettings } from '../offline-token.config';

export interface PublicJwk extends JsonWebKey {
  kid: string;
  alg: 'ES256';
  use: 'sig';
  /** Not in RFC 7517: `active`, or `retired` (verifies only what it signed inside its window). */
  status: 'active' | 'retired';
  /** ISO-8601 start of the signing window (absent: since the beginning). */
  notBefore?: string;
  /**
   * ISO-8601 end of the signing window (absent for the active key, unless the server's own key
   * history retires it: then what it signs after this does not verify).
   */
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
  private readonly logger = new Logger(SigningKeyService.name);
  private readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly kid: string;
  private readonly retired: VerificationKey[];
  /** Since when the active key signs (the last rotation), for the JWKS. */
  private readonly since?: Date;
  /**
   * The end of the signing key's own window when OFFLINE_TOKEN_RETIRED_KEYS lists it as
   * retired (the history was updated but OFFLINE_TOKEN_PRIVATE_KEY not).
   */
  readonly activeNotAfter?: Date;
  private readonly watch: RetiredKeyWatch;

  constructor(
    @Inject(offlineTokenConfig.KEY) settings: OfflineTokenSettings,
    @Optional() metrics?: MetricsRegistry,
  ) {
    this.privateKey = settings.signingKey;
    this.publicKey = createPublicKey(this.privateKey);
    this.kid = kidOf(this.publicKey);
    const history = settings.retiredKeys.map((k) => ({
      kid: kidOf(k.publicKey),
      publicKey: k.publicKey,
      notBefore: k.notBefore,
      notAfter: k.notAfter,
    }));
    this.activeNotAfter = history.find((k) => k.kid === this.kid)?.notAfter;
    this.retired = history.filter((k) => k.kid !== this.kid);
    this.since = activeKeySince(settings.retiredKeys);
    this.watch = new RetiredKeyWatch(
      this.activeNotAfter,
      {
        key: 'OFFLINE_TOKEN_PRIVATE_KEY',
        history: 'OFFLINE_TOKEN_RETIRED_KEYS',
        signs: 'offline tokens',
        metric: 'mdai_token_key_past_window_total',
        context: SigningKeyService.name,
      },
      metrics,
    );
  }

  /** ES256 signature in JOSE form (r‖s, 64 bytes), made at `at` (loud past the key's window). */
  sign(data: string | Buffer, at = new Date()): Buffer {
    this.watch.signing(at);
    return sign('sha256', Buffer.from(data), { key: this.privateKey, dsaEncoding: 'ieee-p1363' });
  }

  /** Why this server's token key does not sign verifiable tokens at `at`, if it does not (for /health). */
  keyProblemAt(at: Date): string | undefined {
    return this.watch.problemAt(at);
  }

  /** Checks a signature by the active key. */
  verify(data: string | Buffer, signature: Buffer): boolean {
    return check(this.publicKey, data, signature);
  }

  /**
   * Checks a signature by the key `kid`: the active key, or a retired key when `signedAt`
   * falls inside its window (a retired key verifies nothing it could have signed later).
   */
  verifyBy(
    kid: string,
    data: string | Buffer,
    signature: Buffer,
    signedAt: Date,
  ): true | 'bad_signature' | 'key_outside_window' {
    const at = signedAt.getTime();
    const key: VerificationKey | undefined =
      kid === this.kid
        ? { kid, publicKey: this.publicKey, notAfter: this.activeNotAfter }
        : this.retired.find((k) => k.kid === kid);
    if (!key || !check(key.publicKey, data, signature)) return 'bad_signature';
    const windowed = key.notBefore !== undefined || key.notAfter !== undefined;
    // a key with a window verifies only what says when it was signed
    if (windowed && Number.isNaN(at)) return 'bad_signature';
    // the signature is the key's, but the key did not sign then: named as such (after the
    // rotation's grace, a replica not restarted, or a stolen retired key)
    if (
      (key.notBefore && at < key.notBefore.getTime()) ||
      (key.notAfter && at > key.notAfter.getTime())
    ) {
      return 'key_outside_window';
    }
    return true;
  }

  knows(kid: string): boolean {
    return kid === this.kid || this.retired.some((k) => k.kid === kid);
  }

  jwks(): { keys: PublicJwk[] } {
    return {
      keys: [
        toJwk(
          {
            kid: this.kid,
            publicKey: this.publicKey,
            notBefore: this.since,
            notAfter: this.activeNotAfter,
          },
          'active',
        ),
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
