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
  isBlocked: boolean;
  lastSeen?: Date;
  /** The address of the last sync (for the trust score's IP factor). */
  lastIp?: string;
  createdAt: Date;
}

export type WorkerDeviceEventAction = 'registered' | 'blocked' | 'unblocked';

/** Who did what to a worker device, when and why. */
export interface WorkerDeviceEvent {
  id: string;
  deviceId: string;
  action: WorkerDeviceEventAction;
  actor: string;
  reason?: string;
  at: Date;
}

export function deviceSecretContext(deviceId: string): string {
  return `worker-device:${deviceId}`;
}
