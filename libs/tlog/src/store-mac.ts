import { Inject, Injectable } from '@nestjs/common';
import { createHash, createPublicKey, hkdfSync, KeyObject, timingSafeEqual } from 'node:crypto';
import { rawEd25519 } from './domain/signed-note';
import { storeMacWith } from './store-mac-with';
import { tlogConfig, TlogSettings } from './tlog.config';

export { storeMacWith };

/**
 * What a store MAC covers. Each purpose has a key of its own, so a tag made for one kind of
 * row never verifies as another's.
 */
export type StoreMacPurpose =
  | 'ledger-link'
  | 'vault-audit'
  | 'timesheet-day'
  | 'timesheet-entry'
  | 'fraud-event'
  | 'fraud-review';

/**
 * The server's MACs over rows it writes, with keys that live outside the store: HMAC-SHA256
 * under HKDF-SHA256(the log signing key's PKCS#8 bytes, salt "mdai/store-mac/v1", info = the
 * purpose). Someone who can write the database but not read TLOG_SIGNING_KEY cannot make a row
 * that verifies: the server checks the tag before it signs a checkpoint over a row it did not
 * append in hand, or pays from a read-model row. Every replica derives the same keys from the
 * shared signing key. A tag names nothing about its key: `kid` (the signing key's id, as in
 * LogKeyService) is stored beside it by callers that need to tell a rotation from a forgery.
 */
@Injectable()
export class StoreMac {
  /** First 16 hex digits of SHA-256 of the raw public key the MAC keys are derived from. */
  readonly kid: string;
  private readonly keys = new Map<StoreMacPurpose, Buffer>();
  private readonly ikm: Buffer;

  constructor(@Inject(tlogConfig.KEY) settings: Pick<TlogSettings, 'signingKey'>) {
    this.ikm = StoreMac.ikmOf(settings.signingKey);
    this.kid = createHash('sha256')
      .update(rawEd25519(createPublicKey(settings.signingKey)))
      .digest('hex')
      .slice(0, 16);
  }

  private static ikmOf(key: KeyObject): Buffer {
    return key.export({ format: 'der', type: 'pkcs8' });
  }

  /** The 32-byte key of a purpose (to hand to a worker thread that computes tags itself). */
  keyFor(purpose: StoreMacPurpose): Buffer {
    let key = this.keys.get(purpose);
    if (!key) {
      key = Buffer.from(hkdfSync('sha256', this.ikm, 'mdai/store-mac/v1', purpose, 32));
      this.keys.set(purpose, key);
    }
    return key;
  }

  /** base64url(HMAC-SHA256(key of purpose, data)), 43 characters. */
  mac(purpose: StoreMacPurpose, data: string | Buffer): string {
    return storeMacWith(this.keyFor(purpose), data);
  }

  /** Whether `tag` is the MAC of `data` for `purpose`, compared in constant time. */
  verify(purpose: StoreMacPurpose, data: string | Buffer, tag: unknown): boolean {
    if (typeof tag !== 'string' || tag.length !== 43) return false;
    const want = Buffer.from(this.mac(purpose, data));
    const got = Buffer.from(tag);
    return got.length === want.length && timingSafeEqual(got, want);
  }
}
