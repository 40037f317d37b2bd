import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { createPublicKey, JsonWebKey, KeyObject, sign, verify } from 'node:crypto';
import { AppConfig, sha256Hex } from '@app/common';

export interface PublicJwk extends JsonWebKey {
  kid: string;
  alg: 'ES256';
  use: 'sig';
}

/**
 * The ES256 (P-256) key pair from OFFLINE_TOKEN_PRIVATE_KEY. It signs offline tokens and
 * ledger checkpoints; its public half is published as a JWKS so phones and auditors can check
 * both without asking the server. The key id is derived from the public key.
 */
@Injectable()
export class SigningKeyService {
  private readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly kid: string;

  constructor(config: ConfigService<AppConfig, true>) {
    this.privateKey = config.get('offlineSync', { infer: true }).signingKey;
    this.publicKey = createPublicKey(this.privateKey);
    this.kid = sha256Hex(this.publicKey.export({ type: 'spki', format: 'der' })).slice(0, 16);
  }

  /** ES256 signature in JOSE form (r‖s, 64 bytes). */
  sign(data: string | Buffer): Buffer {
    return sign('sha256', Buffer.from(data), { key: this.privateKey, dsaEncoding: 'ieee-p1363' });
  }

  verify(data: string | Buffer, signature: Buffer): boolean {
    if (signature.length !== 64) return false;
    return verify(
      'sha256',
      Buffer.from(data),
      { key: this.publicKey, dsaEncoding: 'ieee-p1363' },
      signature,
    );
  }

  jwks(): { keys: PublicJwk[] } {
    const jwk = this.publicKey.export({ format: 'jwk' });
    return { keys: [{ ...jwk, kid: this.kid, alg: 'ES256', use: 'sig' }] };
  }
}
