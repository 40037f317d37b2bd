import { Inject, Injectable } from '@nestjs/common';
import { timingSafeEqual } from 'node:crypto';
import { expandStoreMacKey, legacyStoreMacKey, StoreMacKey } from './store-mac-keys';
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
  | 'fraud-review'
  | 'worker-device-event'
  | 'worker-device-state'
  | 'kiosk-state'
  | 'kiosk-event'
  | 'kiosk-event-mark'
  | 'wifi-challenge'
  | 'enrollment-code'
  | 'enrollment-binding'
  | 'worker-state'
  | 'site-state'
  | 'thekedar-state'
  | 'payroll-close'
  | 'payroll-close-head'
  | 'payroll-close-periods';

/** A key a StoreMac holds besides its current one (no secret). */
export interface HeldStoreMacKey {
  kid: string;
  retiredAt?: Date;
  /** Staged by `keys:rotate mac --stage`: no server tags under it yet. */
  stagedAt?: Date;
  /** The key derived from the current signing key, accepted by STORE_MAC_LEGACY=1. */
  derived?: boolean;
}

/**
 * The server's MACs over rows it writes, with keys that live outside the store: HMAC-SHA256
 * under HKDF-Expand(the store-MAC secret, info = the purpose). The secret is STORE_MAC_KEY, a
 * secret of its own (outside production generated into secrets.json), so a rotation of the log
 * signing key changes no tag. Without it (a StoreMac made from the signing key alone: tests,
 * tools), the secret is derived from TLOG_SIGNING_KEY as it was before STORE_MAC_KEY existed.
 *
 * Tags verify under the current key or a retired one: STORE_MAC_RETIRED_KEYS (where an upgrade
 * records the key derived from the signing key, which made the tags stored before STORE_MAC_KEY
 * was set), and the key derived from the current signing key only when STORE_MAC_LEGACY=1
 * (`storeMacLegacy`: a production install upgraded from before STORE_MAC_KEY; review M-2, the
 * signing key alone must not be able to make a tag that verifies).
 * Someone who can write the database but not read the secrets cannot make a row that verifies:
 * the server checks the tag before it signs a checkpoint over a row it did not append in hand,
 * or pays from a read-model row. A tag names nothing about its key: `kid` (the current key's
 * id) is stored beside it by callers that need to tell a key they no longer hold from a forgery.
 */
@Injectable()
export class StoreMac {
  /** The id of the key tags are made under (16 hex digits). */
  readonly kid: string;
  private readonly current: StoreMacKey;
  /** Every key a tag verifies under, by id (the current one included). */
  private readonly known = new Map<string, StoreMacKey>();
  /**
   * The per-purpose keys made so far, by key id, then purpose (no name made per lookup: every
   * tag written or checked asks, ~1,000 a sync batch).
   */
  private readonly keys = new Map<string, Map<StoreMacPurpose, Buffer>>();
  /** The ids of the keys held besides the current one (retired, staged, derived), in order. */
  private readonly others: HeldStoreMacKey[] = [];

  constructor(
    @Inject(tlogConfig.KEY)
    settings: Pick<TlogSettings, 'signingKey'> &
      Partial<Pick<TlogSettings, 'storeMacKey' | 'storeMacRetiredKeys' | 'storeMacLegacy'>>,
  ) {
    const legacy = legacyStoreMacKey(settings.signingKey);
    this.current = settings.storeMacKey ?? legacy;
    this.kid = this.current.kid;
    this.known.set(this.kid, this.current);
    // the signing-key-derived key only while explicitly accepted (listed, or the flag)
    const derived = settings.storeMacLegacy ? [legacy] : [];
    for (const key of [...(settings.storeMacRetiredKeys ?? []), ...derived]) {
      if (this.known.has(key.kid)) continue;
      this.known.set(key.kid, key);
      this.others.push({
        kid: key.kid,
        ...(key.retiredAt ? { retiredAt: key.retiredAt } : {}),
        ...(key.stagedAt ? { stagedAt: key.stagedAt } : {}),
        ...(derived.includes(key) ? { derived: true } : {}),
      });
    }
  }

  /**
   * The keys held besides the current one: STORE_MAC_RETIRED_KEYS in its order (a staged key
   * marked `stagedAt`), then the key derived from the signing key while STORE_MAC_LEGACY=1
   * (`derived`). Ids and dates only (`keys:retag` names them).
   */
  heldOthers(): HeldStoreMacKey[] {
    return this.others.map((k) => ({ ...k }));
  }

  /**
   * The id of the key `tag` verifies under for `data` (the current key first, as `verify` with
   * no `kid` tries them), or undefined when it verifies under none held here.
   */
  kidOf(purpose: StoreMacPurpose, data: string | Buffer, tag: unknown): string | undefined {
    if (typeof tag !== 'string' || tag.length !== 43) return undefined;
    for (const key of this.known.values()) {
      if (this.matches(key, purpose, data, tag)) return key.kid;
    }
    return undefined;
  }

  /** Whether tags stored with this key id verify here (the current key or a retired one). */
  knows(kid: unknown): boolean {
    return typeof kid === 'string' && this.known.has(kid);
  }

  /** The 32-byte key of a purpose under the current key (for a worker thread that makes tags). */
  keyFor(purpose: StoreMacPurpose): Buffer {
    return this.keyOf(this.current, purpose);
  }

  private keyOf(key: StoreMacKey, purpose: StoreMacPurpose): Buffer {
    let byPurpose = this.keys.get(key.kid);
    if (!byPurpose) {
      byPurpose = new Map();
      this.keys.set(key.kid, byPurpose);
    }
    let bytes = byPurpose.get(purpose);
    if (!bytes) {
      bytes = expandStoreMacKey(key.secret, purpose);
      byPurpose.set(purpose, bytes);
    }
    return bytes;
  }

  /** base64url(HMAC-SHA256(current key of purpose, data)), 43 characters. */
  mac(purpose: StoreMacPurpose, data: string | Buffer): string {
    return storeMacWith(this.keyFor(purpose), data);
  }

  /**
   * The MAC of `data` for `purpose` under every key held, the current one first: the values a
   * row looked up by a keyed hash may be stored under (made before a rotation, say).
   */
  macsUnderEach(
    purpose: StoreMacPurpose,
    data: string | Buffer,
  ): Array<{ kid: string; mac: string }> {
    return [...this.known.values()].map((key) => ({
      kid: key.kid,
      mac: storeMacWith(this.keyOf(key, purpose), data),
    }));
  }

  /**
   * Whether `tag` is the MAC of `data` for `purpose`, compared in constant time: under the key
   * `kid` names (a key this server does not hold: false), or, with no `kid` (rows that store
   * none), under the current key or any retired one.
   */
  verify(purpose: StoreMacPurpose, data: string | Buffer, tag: unknown, kid?: string): boolean {
    if (typeof tag !== 'string' || tag.length !== 43) return false;
    if (kid !== undefined) {
      const key = this.known.get(kid);
      return key !== undefined && this.matches(key, purpose, data, tag);
    }
    for (const key of this.known.values()) {
      if (this.matches(key, purpose, data, tag)) return true;
    }
    return false;
  }

  private matches(key: StoreMacKey, purpose: StoreMacPurpose, data: string | Buffer, tag: string) {
    const want = Buffer.from(storeMacWith(this.keyOf(key, purpose), data));
    const got = Buffer.from(tag);
    return got.length === want.length && timingSafeEqual(got, want);
  }
}
