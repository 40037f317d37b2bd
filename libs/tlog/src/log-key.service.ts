import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { createHash, createPublicKey, KeyObject } from 'node:crypto';
import { activeKeySince, MetricsRegistry, RetiredKeyWatch } from '@app/common';
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
  private readonly logger = new Logger(LogKeyService.name);
  private readonly privateKey: KeyObject;
  /** Signs with privateKey; its public key and key ids worked out once, not per checkpoint. */
  private readonly signer: (text: string, keyName: string) => string;
  readonly active: LogKey;
  readonly retired: LogKey[];
  /**
   * The end of the signing key's own window when TLOG_RETIRED_KEYS lists it as retired (the
   * history was updated but TLOG_SIGNING_KEY not): what it signs after this does not verify.
   */
  readonly activeNotAfter?: Date;
  private readonly watch: RetiredKeyWatch;

  constructor(
    @Inject(tlogConfig.KEY) settings: TlogSettings,
    @Optional() metrics?: MetricsRegistry,
  ) {
    this.privateKey = settings.signingKey;
    this.signer = noteSigner(this.privateKey);
    this.retired = settings.retiredKeys.map((k) => ({
      ...describe(rawEd25519(k.publicKey)),
      notBefore: k.notBefore,
      notAfter: k.notAfter,
      status: 'retired' as const,
    }));
    const active = describe(rawEd25519(createPublicKey(this.privateKey)));
    this.activeNotAfter = this.retired.find((k) => k.kid === active.kid)?.notAfter;
    this.retired = this.retired.filter((k) => k.kid !== active.kid);
    this.active = {
      ...active,
      notBefore: activeKeySince(settings.retiredKeys),
      status: 'active',
    };
    this.watch = new RetiredKeyWatch(
      this.activeNotAfter,
      {
        key: 'TLOG_SIGNING_KEY',
        history: 'TLOG_RETIRED_KEYS',
        signs: 'checkpoints',
        metric: 'mdai_tlog_key_past_window_total',
        context: LogKeyService.name,
      },
      metrics,
    );
  }

  /** Signs a checkpoint's text at `at` (its signedAt); loud when the key's own window has ended. */
  sign(text: string, origin: string, at = new Date()): string {
    this.watch.signing(at);
    return this.signer(text, origin);
  }

  /**
   * Why this server's signing key does not sign verifiable checkpoints at `at`, if it does not:
   * TLOG_RETIRED_KEYS retires it and its window has ended (for /health).
   */
  keyProblemAt(at: Date): string | undefined {
    return this.watch.problemAt(at);
  }

  /** Keys that may have signed at `signedAt`: the active key, and retired keys whose window holds it. */
  trustedAt(signedAt: Date): LogKey[] {
    return [
      ...(this.watch.validAt(signedAt) ? [this.active] : []),
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
