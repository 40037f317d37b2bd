import {
  phoneClaims,
  EnrollmentCode,
  PersonKind,
  Site,
  Thekedar,
  Worker,
  WorkerSponsor,
} from '../../../../domain/workforce';
import {
  EnrollmentCodeDocument,
  PHONE_CLAIMS_FORM,
  SiteDocument,
  ThekedarDocument,
  WorkerDocument,
} from '../schemas/workforce.schema';

export class WorkforceMongoMapper {
  static siteToDomain(doc: SiteDocument): Site {
    return {
      id: doc._id,
      name: doc.name,
      geo: { lat: doc.geo.lat, lng: doc.geo.lng },
      radiusM: doc.radiusM,
      ...(doc.timeZone ? { timeZone: doc.timeZone } : {}),
      createdAt: new Date(doc.createdAt),
    };
  }

  static siteToPersistence(site: Site): SiteDocument {
    const { id, ...rest } = site;
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

  static thekedarToPersistence(t: Thekedar, enrollment: EnrollmentCode): ThekedarDocument {
    const { id, siteIds, ...rest } = t;
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
      createdAt: new Date(doc.createdAt),
    };
  }

  /** `phoneKey`: the phone's claim key (`PhoneNumbers.claimKey`): its claims are keyed in E.164. */
  static workerToPersistence(
    w: Worker,
    enrollment: EnrollmentCode,
    phoneKey: string,
  ): WorkerDocument {
    const { id, sponsor, ...rest } = w;
    return {
      _id: id,
      sponsor: { ...sponsor },
      ...rest,
      enrollment: WorkforceMongoMapper.enrollmentToPersistence(enrollment),
      phoneClaims: phoneClaims(w, phoneKey),
      phoneClaimsForm: PHONE_CLAIMS_FORM,
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
      usedAt: doc.usedAt ? new Date(doc.usedAt) : undefined,
      usedByDeviceId: doc.usedByDeviceId ?? undefined,
    };
  }

  static enrollmentToPersistence(e: EnrollmentCode): EnrollmentCodeDocument {
    const { personKind: _kind, personId: _id, ...rest } = e;
    return rest;
  }
}
