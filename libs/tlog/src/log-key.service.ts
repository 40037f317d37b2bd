import { Inject, Injectable } from '@nestjs/common';
import { createHash, createPublicKey, KeyObject } from 'node:crypto';
import { noteSigner, rawEd25519, verifierKey } from './domain/signed-note';
import { tlogConfig, TlogSettings } from './tlog.config';

/** One checkpoint verification key and the window in which it signed. */
export interface LogKey {
  /** First 16 hex digits of SHA-256 of the raw public key. */
  kid: string;
  /** The 32-byte Ed25519 public key, base64. */
  publicKey: string;
  raw: Buffer;
  notBefore?: Date;
  notAfter?: Date;
  status: 'active' | 'retired';
}

/**
 * The Ed25519 log key (TLOG_SIGNING_KEY) and the retired ones (TLOG_RETIRED_KEYS). The
 * signature key name of a checkpoint is its log's origin, so the verifier key of a log is
 * `<origin>+<key id>+<base64(0x01 ‖ public key)>`.
 */
@Injectable()
export class LogKeyService {
  private readonly privateKey: KeyObject;
  /** Signs with privateKey; its public key and key ids worked out once, not per checkpoint. */
  private readonly signer: (text: string, keyName: string) => string;
  readonly active: LogKey;
  readonly retired: LogKey[];

  constructor(@Inject(tlogConfig.KEY) settings: TlogSettings) {
    this.privateKey = settings.signingKey;
    this.signer = noteSigner(this.privateKey);
    this.retired = settings.retiredKeys.map((k) => ({
      ...describe(rawEd25519(k.publicKey)),
      notBefore: k.notBefore,
      notAfter: k.notAfter,
      status: 'retired' as const,
    }));
    const since = this.retired.reduce<Date | undefined>(
      (latest, k) => (!latest || k.notAfter! > latest ? k.notAfter : latest),
      undefined,
    );
    this.active = {
      ...describe(rawEd25519(createPublicKey(this.privateKey))),
      notBefore: since,
      status: 'active',
    };
  }

  sign(text: string, origin: string): string {
    return this.signer(text, origin);
  }

  /** Keys that may have signed at `signedAt`: the active key, and retired keys whose window holds it. */
  trustedAt(signedAt: Date): LogKey[] {
    return [
      this.active,
      ...this.retired.filter((k) => k.notBefore! <= signedAt && signedAt <= k.notAfter!),
    ];
  }

  all(): LogKey[] {
    return [this.active, ...this.retired];
  }

  verifierKey(origin: string, key: LogKey = this.active): string {
    return verifierKey(origin, key.raw);
  }
}

function describe(raw: Buffer): { kid: string; publicKey: string; raw: Buffer } {
  return {
    kid: createHash('sha256').update(raw).digest('hex').slice(0, 16),
    publicKey: raw.toString('base64'),
    raw,
  };
}
