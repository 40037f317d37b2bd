import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StoreMac } from '@app/tlog';
import { KioskDevice, KioskEvent } from '../../../../domain/kiosk-device';
import { KioskSeal } from '../../kiosk-seal';

/** What the SQLite kiosk store's specs set up: a temporary folder, a seal, registrations. */

/** A fresh temporary folder for a spec's SQLite file (`prefix`: what names the spec). */
export function kioskSpecDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A KioskSeal under a store-MAC key derived from a fresh signing key. */
export function kioskSpecSeal(): KioskSeal {
  return new KioskSeal(new StoreMac({ signingKey: generateKeyPairSync('ed25519').privateKey }));
}

const AT = new Date('2026-01-01T00:00:00Z');

/** An active kiosk `deviceId`, its fields named after it. */
export function specKiosk(deviceId: string): KioskDevice {
  return {
    id: `id-${deviceId}`,
    deviceId,
    publicKeyPem: `pem-${deviceId}`,
    keyFingerprint: `fp-${deviceId}`,
    status: 'active',
    createdAt: AT,
    updatedAt: AT,
  };
}

/** The registration event of `specKiosk(deviceId)`. */
export function specRegistration(deviceId: string): KioskEvent {
  return { id: `ev-${deviceId}`, deviceId, action: 'registered', actor: 'admin:test', at: AT };
}
