import {
  DeviceFingerprint,
  WorkerDevice,
  WorkerDeviceEvent,
  WorkerDeviceEventAction,
} from '../../../../domain/worker-device';
import { PersonKind } from '@app/workforce';

export interface WorkerDeviceRow {
  id: string;
  device_id: string;
  user_kind: string;
  user_id: string;
  site_ids: string;
  fingerprint: string;
  sealed_secret: string;
  trust_score: number;
  is_blocked: number;
  last_seen: string | null;
  last_ip?: string | null;
  created_at: string;
  /** WorkerDeviceSeal's tag of the block state, and the id of the event that set it. */
  block_tag?: string | null;
  block_event_id?: string | null;
}

export interface WorkerDeviceEventRow {
  id: string;
  device_id: string;
  action: string;
  actor: string;
  reason: string | null;
  at: string;
  tag?: string | null;
}

export class WorkerDeviceSqliteMapper {
  static toDomain(row: WorkerDeviceRow): WorkerDevice {
    return {
      id: row.id,
      deviceId: row.device_id,
      user: { kind: row.user_kind as PersonKind, id: row.user_id },
      siteIds: JSON.parse(row.site_ids) as string[],
      fingerprint: JSON.parse(row.fingerprint) as DeviceFingerprint,
      sealedSecret: row.sealed_secret,
      trustScore: row.trust_score,
      isBlocked: row.is_blocked === 1,
      lastSeen: row.last_seen ? new Date(row.last_seen) : undefined,
      lastIp: row.last_ip ?? undefined,
      createdAt: new Date(row.created_at),
    };
  }

  static toPersistence(d: WorkerDevice): WorkerDeviceRow {
    return {
      id: d.id,
      device_id: d.deviceId,
      user_kind: d.user.kind,
      user_id: d.user.id,
      site_ids: JSON.stringify(d.siteIds),
      fingerprint: JSON.stringify({
        os: d.fingerprint.os,
        model: d.fingerprint.model,
        simHash: d.fingerprint.simHash,
      }),
      sealed_secret: d.sealedSecret,
      trust_score: d.trustScore,
      is_blocked: d.isBlocked ? 1 : 0,
      last_seen: d.lastSeen?.toISOString() ?? null,
      last_ip: d.lastIp ?? null,
      created_at: d.createdAt.toISOString(),
    };
  }

  static eventToDomain(row: WorkerDeviceEventRow): WorkerDeviceEvent {
    return {
      id: row.id,
      deviceId: row.device_id,
      action: row.action as WorkerDeviceEventAction,
      actor: row.actor,
      reason: row.reason ?? undefined,
      at: new Date(row.at),
    };
  }

  static eventToPersistence(e: WorkerDeviceEvent): WorkerDeviceEventRow {
    return {
      id: e.id,
      device_id: e.deviceId,
      action: e.action,
      actor: e.actor,
      reason: e.reason ?? null,
      at: e.at.toISOString(),
    };
  }
}
