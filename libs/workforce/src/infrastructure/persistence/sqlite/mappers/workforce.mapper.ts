import { storedTimeZone } from '@app/common';
import {
  EnrollmentCode,
  PersonKind,
  Site,
  Thekedar,
  Worker,
  WorkerEvent,
  WorkerEventAction,
  WorkerSponsor,
  WorkerStatus,
} from '../../../../domain/workforce';
import type { StoredSite } from '../../site-seal';
import { unreadableThekedar } from '../../unreadable-record';

export interface SiteRow {
  id: string;
  name: string;
  lat: number;
  lng: number;
  radius_m: number;
  time_zone: string | null;
  created_at: string;
  /** SiteSeal's tag (migration 13; NULL: from before the tags, or a store without them). */
  tag?: string | null;
}

export interface ThekedarRow {
  id: string;
  name: string;
  phone: string;
  trust_score: number;
  /** JSON array of site ids (workforce migration 8; `[]` by default). */
  site_ids: string;
  created_at: string;
  /** ThekedarSeal's tag (migration 13; NULL: from before the tags, or a store without them). */
  tag?: string | null;
}

export interface WorkerRow {
  id: string;
  name: string;
  phone: string;
  site_ids: string;
  trust_score: number;
  sponsor: string;
  trust_inherited_until: string | null;
  status: string;
  status_changed_at: string | null;
  created_at: string;
  /** WorkerSeal's tag (migration 12; NULL: from before the tags, or a store without them). */
  tag?: string | null;
  /** The id of the worker's newest event its tag is bound to (NULL: none). */
  event_id?: string | null;
}

export interface WorkerEventRow {
  id: string;
  worker_id: string;
  action: string;
  actor: string;
  reason: string | null;
  site_ids: string | null;
  /** Absent (null) on a change recorded before migration 9. */
  previous_site_ids: string | null;
  /** phone_changed: the numbers, masked (migration 10). */
  phone: string | null;
  previous_phone: string | null;
  at: string;
}

export interface EnrollmentRow {
  code_hash: string;
  person_kind: string;
  person_id: string;
  expires_at: string;
  tag: string | null;
  used_at: string | null;
  used_by_device_id: string | null;
}

export class WorkforceSqliteMapper {
  static siteToDomain(row: SiteRow): Site {
    return {
      id: row.id,
      name: row.name,
      geo: { lat: row.lat, lng: row.lng },
      radiusM: row.radius_m,
      ...(row.time_zone ? { timeZone: storedTimeZone(row.time_zone) } : {}),
      createdAt: new Date(row.created_at),
    };
  }

  /** The row's fields as stored, unparsed (what SiteSeal tags). */
  static siteAsStored(row: SiteRow): StoredSite {
    return {
      id: row.id,
      name: row.name,
      lat: row.lat,
      lng: row.lng,
      radiusM: row.radius_m,
      timeZone: row.time_zone,
      createdAt: row.created_at,
    };
  }

  static siteToPersistence(site: Site): SiteRow {
    return {
      id: site.id,
      name: site.name,
      lat: site.geo.lat,
      lng: site.geo.lng,
      radius_m: site.radiusM,
      time_zone: site.timeZone ?? null,
      created_at: site.createdAt.toISOString(),
    };
  }

  static thekedarToDomain(row: ThekedarRow): Thekedar {
    return {
      id: row.id,
      name: row.name,
      phone: row.phone,
      trustScore: row.trust_score,
      siteIds: JSON.parse(row.site_ids) as string[],
      createdAt: new Date(row.created_at),
    };
  }

  /** What is known of a thekedar row thekedarToDomain cannot read (its `site_ids` not JSON). */
  static thekedarUnreadable(row: ThekedarRow): Thekedar {
    return unreadableThekedar(row.id, row.name, row.phone, row.created_at);
  }

  static thekedarToPersistence(t: Thekedar): ThekedarRow {
    return {
      id: t.id,
      name: t.name,
      phone: t.phone,
      trust_score: t.trustScore,
      site_ids: JSON.stringify(t.siteIds),
      created_at: t.createdAt.toISOString(),
    };
  }

  static workerToDomain(row: WorkerRow): Worker {
    return {
      id: row.id,
      name: row.name,
      phone: row.phone,
      siteIds: JSON.parse(row.site_ids) as string[],
      trustScore: row.trust_score,
      sponsor: JSON.parse(row.sponsor) as WorkerSponsor,
      trustInheritedUntil: row.trust_inherited_until
        ? new Date(row.trust_inherited_until)
        : undefined,
      status: row.status as WorkerStatus,
      ...(row.status_changed_at ? { statusChangedAt: new Date(row.status_changed_at) } : {}),
      createdAt: new Date(row.created_at),
    };
  }

  static workerEventToDomain(row: WorkerEventRow): WorkerEvent {
    return {
      id: row.id,
      workerId: row.worker_id,
      action: row.action as WorkerEventAction,
      actor: row.actor,
      ...(row.reason !== null ? { reason: row.reason } : {}),
      ...(row.site_ids !== null ? { siteIds: JSON.parse(row.site_ids) as string[] } : {}),
      ...(row.previous_site_ids !== null
        ? { previousSiteIds: JSON.parse(row.previous_site_ids) as string[] }
        : {}),
      ...(row.phone !== null ? { phone: row.phone } : {}),
      ...(row.previous_phone !== null ? { previousPhone: row.previous_phone } : {}),
      at: new Date(row.at),
    };
  }

  static workerEventToPersistence(e: WorkerEvent): WorkerEventRow {
    return {
      id: e.id,
      worker_id: e.workerId,
      action: e.action,
      actor: e.actor,
      reason: e.reason ?? null,
      site_ids: e.siteIds ? JSON.stringify(e.siteIds) : null,
      previous_site_ids: e.previousSiteIds ? JSON.stringify(e.previousSiteIds) : null,
      phone: e.phone ?? null,
      previous_phone: e.previousPhone ?? null,
      at: e.at.toISOString(),
    };
  }

  static workerToPersistence(w: Worker): WorkerRow {
    return {
      id: w.id,
      name: w.name,
      phone: w.phone,
      site_ids: JSON.stringify(w.siteIds),
      trust_score: w.trustScore,
      sponsor: JSON.stringify(w.sponsor),
      trust_inherited_until: w.trustInheritedUntil?.toISOString() ?? null,
      status: w.status,
      status_changed_at: w.statusChangedAt?.toISOString() ?? null,
      created_at: w.createdAt.toISOString(),
    };
  }

  static enrollmentToDomain(row: EnrollmentRow): EnrollmentCode {
    return {
      codeHash: row.code_hash,
      personKind: row.person_kind as PersonKind,
      personId: row.person_id,
      expiresAt: new Date(row.expires_at),
      ...(row.tag ? { tag: row.tag } : {}),
      usedAt: row.used_at ? new Date(row.used_at) : undefined,
      usedByDeviceId: row.used_by_device_id ?? undefined,
    };
  }

  static enrollmentToPersistence(e: EnrollmentCode): EnrollmentRow {
    return {
      code_hash: e.codeHash,
      person_kind: e.personKind,
      person_id: e.personId,
      expires_at: e.expiresAt.toISOString(),
      tag: e.tag ?? null,
      used_at: e.usedAt?.toISOString() ?? null,
      used_by_device_id: e.usedByDeviceId ?? null,
    };
  }
}
