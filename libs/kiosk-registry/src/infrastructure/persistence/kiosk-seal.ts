import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { fraudConfig, FraudSettings } from '@app/fraud';
import { LegacyTaggingRefusal, legacyTaggingSwitch } from '@app/persistence';
import { StoreMac } from '@app/tlog';
import { KioskDevice, KioskIntegrity, KioskStatus } from '../../domain/kiosk-device';

/** What a kiosk's tag covers: everything that decides whether the kiosk is trusted. */
export interface KioskTrust {
  id: string;
  deviceId: string;
  publicKeyPem: string;
  keyFingerprint: string;
  status: KioskStatus;
  updatedAt: Date;
}

/**
 * The store-MAC tag of a kiosk (StoreMac, purpose 'kiosk-state'), made the way WorkerDeviceSeal
 * tags a worker device's block state: written by the stores in the same write as the row
 * (registration, key rotation, block, unblock), checked at every read.
 *
 * - The tag covers the row's id, the deviceId, the public key (PEM and fingerprint), the status
 *   and `updatedAt`: a key swapped in the database (whose holder would then pass the kiosk's RSA
 *   challenges) or a blocked kiosk set active reads `tampered`, and a tampered kiosk reads as
 *   blocked wherever it is used (the Wi-Fi challenge, the relay's auth and pairing, the
 *   standing checks), with the codes the kiosks already know.
 * - The repair is an admin's key rotation with the kiosk's genuine key: it tags the new key with
 *   the kiosk blocked (the stored status is not to be trusted), and an unblock then makes it
 *   active. An unblock of a tampered kiosk is refused (it would vouch for a key nobody checked).
 * - Rows stored before the tags are tagged once, at the first start with them, over the same
 *   data prefixed with `"legacy"` (the fraud tags' rule and switch: FRAUD_LEGACY_TAGGING, the
 *   `kiosk_seal` marker; see tagLegacyRowsOnceSqlite/Mongo). A legacy row holds as stored until
 *   its next change, which tags it as the server's.
 *
 * A tag cannot tell a rollback: a whole earlier row put back (an active row saved before a
 * block) verifies; only a copy kept outside the database (a backup, the events) tells it.
 */
@Injectable()
export class KioskSeal {
  /** FRAUD_LEGACY_TAGGING (on without the setting: a tool, a contract spec). */
  readonly legacyTaggingAllowed: boolean;
  /** FRAUD_LEGACY_TAGGING=1 set explicitly: the untagged kiosks are tagged whatever is tagged. */
  readonly legacyTaggingForced: boolean;

  constructor(
    private readonly mac: StoreMac,
    @Optional()
    @Inject(fraudConfig.KEY)
    settings?: Pick<FraudSettings, 'legacyTagging' | 'legacyTaggingExplicit'>,
  ) {
    const rule = legacyTaggingSwitch(settings);
    this.legacyTaggingAllowed = rule.legacyTaggingAllowed;
    this.legacyTaggingForced = rule.legacyTaggingForced;
  }

  tag(kiosk: KioskTrust, legacy = false): string {
    return this.mac.mac('kiosk-state', trustData(kiosk, legacy));
  }

  integrity(kiosk: KioskTrust, tag: unknown): KioskIntegrity {
    if (this.mac.verify('kiosk-state', trustData(kiosk, false), tag)) return 'verified';
    if (this.mac.verify('kiosk-state', trustData(kiosk, true), tag)) return 'legacy';
    return 'tampered';
  }

  /** The kiosk as read with its tag checked: one that does not verify fails closed (blocked). */
  checked(kiosk: KioskDevice, tag: unknown, wellFormed = true): KioskDevice {
    kiosk.integrity = wellFormed ? this.integrity(kiosk, tag) : 'tampered';
    if (kiosk.integrity === 'tampered') kiosk.status = 'blocked';
    return kiosk;
  }

  /**
   * What `keys:retag` does with a stored tag that read `integrity`: `tampered` (never re-tagged:
   * that would launder it), `current`, `suspect` (it verifies only under a key of `except`),
   * or `retag` with the new tag under the current key (legacy stays legacy).
   */
  retag(
    kiosk: KioskTrust,
    tag: unknown,
    integrity: KioskIntegrity,
    except: readonly string[] = [],
  ): KioskRetagStep {
    if (integrity === 'tampered') return { kind: 'tampered' };
    const legacy = integrity === 'legacy';
    const kid = this.mac.kidOf('kiosk-state', trustData(kiosk, legacy), tag);
    if (kid === undefined) return { kind: 'tampered' };
    if (kid === this.mac.kid) return { kind: 'current' };
    if (except.includes(kid)) return { kind: 'suspect', from: kid };
    return { kind: 'retag', from: kid, tag: this.tag(kiosk, legacy) };
  }
}

/** One kiosk's re-tagging (KioskSeal.retag). */
export type KioskRetagStep =
  | { kind: 'tampered' }
  | { kind: 'current' }
  | { kind: 'suspect'; from: string }
  | { kind: 'retag'; from: string; tag: string };

/**
 * What `keys:retag` did with one kiosk: `from` the key it was under (re-tagged, suspect: under
 * an excepted key, left; changed: a server changed it meanwhile, left: run again).
 */
export interface KioskRetagOutcome {
  deviceId: string;
  result: 'retagged' | 'current' | 'changed' | 'tampered' | 'suspect';
  from?: string;
}

export const KIOSK_LEGACY_REFUSALS: Record<LegacyTaggingRefusal, string> = {
  tagged_rows:
    "ALARM: no kiosk_seal marker but kiosks already carry tags: the legacy tagging was not run (it would mark rows written outside the server as legacy); untagged kiosks read as tampered (blocked). If this is an upgrade first started without FRAUD_LEGACY_TAGGING=1 (kiosks registered since), restart once with FRAUD_LEGACY_TAGGING=1 set explicitly; otherwise restore kiosk_seal from a backup, or rotate each kiosk's key as an admin",
  not_allowed:
    'ALARM: untagged kiosks, no kiosk_seal marker and no tagged row, and FRAUD_LEGACY_TAGGING is off: the legacy tagging was not run; untagged kiosks read as tampered (blocked). If this start upgrades a store from a version without kiosk tags, restart once with FRAUD_LEGACY_TAGGING=1',
};

export function alarmKioskLegacyRefused(logger: Logger, reason: LegacyTaggingRefusal): void {
  logger.error(KIOSK_LEGACY_REFUSALS[reason]);
}

function iso(at: Date): string {
  return Number.isNaN(at.getTime()) ? 'invalid' : at.toISOString();
}

function trustData(k: KioskTrust, legacy: boolean): string {
  const data = [k.id, k.deviceId, k.publicKeyPem, k.keyFingerprint, k.status, iso(k.updatedAt)];
  return JSON.stringify(legacy ? ['legacy', ...data] : data);
}
