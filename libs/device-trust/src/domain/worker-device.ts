import { PersonKind } from '@app/workforce';

export interface DeviceFingerprint {
  os: string;
  model: string;
  simHash: string;
}

/** A worker's (or thekedar's) phone, registered with an enrollment code. */
export interface WorkerDevice {
  id: string;
  deviceId: string;
  user: { kind: PersonKind; id: string };
  /** Sites the person may record attendance at (copied into offline tokens). */
  siteIds: string[];
  fingerprint: DeviceFingerprint;
  /** The 32-byte device secret, sealed by the Vault keyring (context `worker-device:<deviceId>`). */
  sealedSecret: string;
  trustScore: number;
  /**
   * Blocked: as stored, or because the stored block state's tag does not verify
   * (`blockIntegrity: 'tampered'`: a state changed outside the server fails closed).
   */
  isBlocked: boolean;
  /**
   * Whether the server vouches for the block state (WorkerDeviceSeal): `verified`, `legacy`
   * (stored before the tags, tagged once at the upgrade) or `tampered` (isBlocked is then true
   * whatever the row says; an admin's block or unblock re-tags it). Absent on a store read
   * without the tags (the plain contract suite).
   */
  blockIntegrity?: WorkerDeviceIntegrity;
  lastSeen?: Date;
  /** The address of the last sync (for the trust score's IP factor). */
  lastIp?: string;
  createdAt: Date;
}

/** What the store-MAC tag of a block state or an event says of it (as FraudIntegrity). */
export type WorkerDeviceIntegrity = 'verified' | 'legacy' | 'tampered';

export type WorkerDeviceEventAction = 'registered' | 'blocked' | 'unblocked';

/** Who did what to a worker device, when and why. */
export interface WorkerDeviceEvent {
  id: string;
  deviceId: string;
  action: WorkerDeviceEventAction;
  actor: string;
  reason?: string;
  at: Date;
  /** Read back from the store: whether its tag verifies (absent when written, or read untagged). */
  integrity?: WorkerDeviceIntegrity;
}

export function deviceSecretContext(deviceId: string): string {
  return `worker-device:${deviceId}`;
}
