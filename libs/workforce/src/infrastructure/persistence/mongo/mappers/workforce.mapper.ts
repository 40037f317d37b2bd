import { storedTimeZone } from '@app/common';
import {
  phoneClaims,
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
import {
  EnrollmentCodeDocument,
  PHONE_CLAIMS_FORM,
  SiteDocument,
  ThekedarDocument,
  WorkerDocument,
  WorkerEventDocument,
} from '../schemas/workforce.schema';
import type { StoredSite } from '../../site-seal';
import { unreadableThekedar } from '../../unreadable-record';

export class WorkforceMongoMapper {
  static siteToDomain(doc: SiteDocument): Site {
    return {
      id: doc._id,
      name: doc.name,
      geo: { lat: doc.geo.lat, lng: doc.geo.lng },
      radiusM: doc.radiusM,
      ...(doc.timeZone ? { timeZone: storedTimeZone(doc.timeZone) } : {}),
      createdAt: new Date(doc.createdAt),
    };
  }

  /** The document's fields as stored, unparsed (what SiteSeal tags; `geo` may be missing). */
  static siteAsStored(doc: SiteDocument): StoredSite {
    const geo = doc.geo as Partial<SiteDocument['geo']> | undefined;
    return {
      id: doc._id,
      name: doc.name,
      lat: geo?.lat,
      lng: geo?.lng,
      radiusM: doc.radiusM,
      timeZone: doc.timeZone,
      createdAt: doc.createdAt,
    };
  }

  static siteToPersistence(site: Site): SiteDocument {
    // eslint-disable-next-line @typescript-eslint/no-unused-vars
    const { id, integrity, ...rest } = site;
    return { _id: id, ...rest };
  }

  static thekedarToDomain(doc: ThekedarDocument): Thekedar {
    return {
      id: doc._id,
      name: doc.name,
      phone: doc.phone,
      trustScore: doc.trustScore,
      // absent only before the boot's pass gave a thekedar from before its sites
      siteIds: [...(doc.siteIds ?? [])],
      createdAt: new Date(doc.createdAt),
    };
  }

  /** What is known of a thekedar document thekedarToDomain cannot read. */
  static thekedarUnreadable(doc: ThekedarDocument): Thekedar {
    return unreadableThekedar(doc._id, doc.name, doc.phone, doc.createdAt);
  }

  static thekedarToPersistence(t: Thekedar, enrollment: EnrollmentCode): ThekedarDocument {
    // eslint-disable-next-line @typescript-eslint/no-unused-vars
    const { id, siteIds, integrity, ...rest } = t;
    return {
      _id: id,
      ...rest,
      siteIds: [...siteIds],
      enrollment: WorkforceMongoMapper.enrollmentToPersistence(enrollment),
    };
  }

  static workerToDomain(doc: WorkerDocument): Worker {
    return {
      id: doc._id,
      name: doc.name,
      phone: doc.phone,
      siteIds: [...doc.siteIds],
      trustScore: doc.trustScore,
      sponsor: doc.sponsor as unknown as WorkerSponsor,
      trustInheritedUntil: doc.trustInheritedUntil ? new Date(doc.trustInheritedUntil) : undefined,
      status: (doc.status as WorkerStatus | undefined) ?? 'active',
      ...(doc.statusChangedAt ? { statusChangedAt: new Date(doc.statusChangedAt) } : {}),
      createdAt: new Date(doc.createdAt),
    };
  }

  static workerEventToDomain(doc: WorkerEventDocument, workerId: string): WorkerEvent {
    return {
      id: doc.id,
      workerId,
      action: doc.action as WorkerEventAction,
      actor: doc.actor,
      ...(doc.reason !== undefined && doc.reason !== null ? { reason: doc.reason } : {}),
      ...(doc.siteIds ? { siteIds: [...doc.siteIds] } : {}),
      ...(doc.previousSiteIds ? { previousSiteIds: [...doc.previousSiteIds] } : {}),
      ...(typeof doc.phone === 'string' ? { phone: doc.phone } : {}),
      ...(typeof doc.previousPhone === 'string' ? { previousPhone: doc.previousPhone } : {}),
      at: new Date(doc.at),
    };
  }

  static workerEventToPersistence(e: WorkerEvent): WorkerEventDocument {
    const { workerId: _workerId, ...rest } = e;
    return rest;
  }

  /** `phoneKey`: the phone's claim key (`PhoneNumbers.claimKey`): its claims are keyed in E.164. */
  static workerToPersistence(
    w: Worker,
    enrollment: EnrollmentCode,
    phoneKey: string,
  ): WorkerDocument {
    const { id, sponsor, statusChangedAt, ...rest } = w;
    const claims = phoneClaims(w, phoneKey);
    return {
      _id: id,
      sponsor: { ...sponsor },
      ...rest,
      ...(statusChangedAt ? { statusChangedAt } : {}),
      enrollment: WorkforceMongoMapper.enrollmentToPersistence(enrollment),
      // none (an inactive worker): no field, never an empty array (see WorkerDocument)
      ...(claims.length > 0 ? { phoneClaims: claims, phoneClaimsForm: PHONE_CLAIMS_FORM } : {}),
    };
  }

  /** The code embedded in the person `personId` of kind `personKind`. */
  static enrollmentToDomain(
    doc: EnrollmentCodeDocument,
    personKind: PersonKind,
    personId: string,
  ): EnrollmentCode {
    return {
      codeHash: doc.codeHash,
      personKind,
      personId,
      expiresAt: new Date(doc.expiresAt),
      ...(doc.tag ? { tag: doc.tag } : {}),
      usedAt: doc.usedAt ? new Date(doc.usedAt) : undefined,
      usedByDeviceId: doc.usedByDeviceId ?? undefined,
    };
  }

  static enrollmentToPersistence(e: EnrollmentCode): EnrollmentCodeDocument {
    const { personKind: _kind, personId: _id, ...rest } = e;
    return rest;
  }
}
