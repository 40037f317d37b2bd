import {
  KioskDevice,
  KioskEvent,
  KioskEventAction,
  KioskStatus,
} from '../../../../domain/kiosk-device';

export interface KioskDeviceRow {
  id: string;
  device_id: string;
  public_key_pem: string;
  key_fingerprint: string;
  status: string;
  created_at: string;
  updated_at: string;
  /** KioskSeal's tag (NULL: written before the tags, or outside the server). */
  tag?: string | null;
  /** The event the tag binds the state to (NULL: a tag from before, or none). */
  event_id?: string | null;
  event_seq?: number | null;
}

export interface KioskEventRow {
  id: string;
  device_id: string;
  action: string;
  actor: string;
  reason: string | null;
  key_fingerprint: string | null;
  previous_key_fingerprint: string | null;
  at: string;
  /** The store-wide number and KioskSeal's tag (NULL: written before the tags, or without). */
  seq?: number | null;
  tag?: string | null;
}

export class KioskDeviceSqliteMapper {
  static toDomain(row: KioskDeviceRow): KioskDevice {
    return {
      id: row.id,
      deviceId: row.device_id,
      publicKeyPem: row.public_key_pem,
      keyFingerprint: row.key_fingerprint,
      status: row.status as KioskStatus,
      createdAt: new Date(row.created_at),
      updatedAt: new Date(row.updated_at),
    };
  }

  static toPersistence(device: KioskDevice): KioskDeviceRow {
    return {
      id: device.id,
      device_id: device.deviceId,
      public_key_pem: device.publicKeyPem,
      key_fingerprint: device.keyFingerprint,
      status: device.status,
      created_at: device.createdAt.toISOString(),
      updated_at: device.updatedAt.toISOString(),
    };
  }

  static eventToDomain(row: KioskEventRow): KioskEvent {
    return {
      id: row.id,
      deviceId: row.device_id,
      action: row.action as KioskEventAction,
      actor: row.actor,
      reason: row.reason ?? undefined,
      keyFingerprint: row.key_fingerprint ?? undefined,
      previousKeyFingerprint: row.previous_key_fingerprint ?? undefined,
      at: new Date(row.at),
    };
  }

  static eventToPersistence(event: KioskEvent): KioskEventRow {
    return {
      id: event.id,
      device_id: event.deviceId,
      action: event.action,
      actor: event.actor,
      reason: event.reason ?? null,
      key_fingerprint: event.keyFingerprint ?? null,
      previous_key_fingerprint: event.previousKeyFingerprint ?? null,
      at: event.at.toISOString(),
    };
  }
}
