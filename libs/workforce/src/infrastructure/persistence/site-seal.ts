import { Injectable, Logger } from '@nestjs/common';
import { FieldsTaggedSeal } from '@app/fraud';
import { LegacyTaggingRefusal } from '@app/persistence';
import { Thekedar } from '../../domain/workforce';
import { WorkforceError } from '../../workforce.errors';

export type { RecordRetagOutcome } from '@app/fraud';

/**
 * The store-MAC tags of sites (purpose 'site-state') and thekedars ('thekedar-state'), written
 * by the stores in the same write as the row (creation, an admin's change) and checked at every
 * read, as WorkerSeal tags workers.
 *
 * - A site's tag covers its id, name, geofence (lat, lng, radius) and time zone (the local day a
 *   punch falls on: overtime, night and day boundaries in payroll) and its creation time. A
 *   tampered site is refused wherever a decision reads it: syncs of packets for it (503
 *   `site_tampered`: the geofence screen cannot run), its timesheets, payroll and CSV exports
 *   and corrections (503 `site_tampered`), an admin's change of it, a worker or thekedar given
 *   it (403 `site_tampered`).
 * - A thekedar's tag covers its id, name, phone, trust score, sites and creation time. A
 *   tampered thekedar is refused wherever it acts: its signed requests (onboarding, timesheet
 *   reads and corrections), its registration, an admin's change of its sites (403
 *   `thekedar_tampered`).
 * - Not caught (docs/architecture.md): a row put back whole as it was at an earlier time (a
 *   thekedar's sites before an admin narrowed them, a site's geofence before it moved): neither
 *   has an event to bind its tag to, only a copy kept outside the database (a backup) tells it.
 * - Rows stored before the tags are tagged once at the first start with them, as legacy (the
 *   fraud tags' rule and switch, FRAUD_LEGACY_TAGGING; markers `site_seal` and `thekedar_seal`).
 * - No API write repairs a tampered record (it would vouch for fields nobody checked): the row
 *   is restored from a backup.
 */
/**
 * A site's fields exactly as stored (SQLite columns, MongoDB fields): what SiteSeal tags, not
 * the mapped Site. The mapping is not stable across runtimes (storedTimeZone's spelling follows
 * ICU: `Asia/Calcutta` → `Asia/Kolkata`, `Europe/Kiev` → `Europe/Kyiv`): an honest row tagged over
 * it would read tampered after an ICU upgrade, or at once when the write tagged another spelling.
 */
export interface StoredSite {
  id: string;
  name: unknown;
  lat: unknown;
  lng: unknown;
  radiusM: unknown;
  timeZone: unknown;
  /** As stored: an ISO string (SQLite), a Date (MongoDB). */
  createdAt: unknown;
}

@Injectable()
export class SiteSeal extends FieldsTaggedSeal<StoredSite> {
  protected readonly purpose = 'site-state';

  protected fields(s: StoredSite): unknown[] {
    // an API-written row encodes as its mapped site did (the tags written before stay valid)
    const at = s.createdAt instanceof Date ? tagIso(s.createdAt) : (s.createdAt ?? null);
    return [s.id, s.name, s.lat ?? null, s.lng ?? null, s.radiusM ?? null, s.timeZone ?? null, at];
  }
}

@Injectable()
export class ThekedarSeal extends FieldsTaggedSeal<Thekedar> {
  protected readonly purpose = 'thekedar-state';

  protected fields(t: Thekedar): unknown[] {
    return [t.id, t.name, t.phone, t.trustScore, t.siteIds, tagIso(t.createdAt)];
  }
}

/** An instant as tagged (absent: null; an invalid date: 'invalid'). */
export function tagIso(at: Date | undefined): string | null {
  if (at === undefined) return null;
  return Number.isNaN(at.getTime()) ? 'invalid' : at.toISOString();
}

/** 403 `site_tampered`: a change of, or a person given, a site whose record is not the server's. */
export function siteTampered(siteIds: string[]): WorkforceError {
  return new WorkforceError(
    'site_tampered',
    "A site's stored record (geofence or time zone) was changed outside the server: it is refused until restored from a backup",
    siteIds.map((id) => ({ field: 'siteId', message: id })),
  );
}

/** 403 `thekedar_tampered`: the thekedar's stored record is not the server's. */
export function thekedarTampered(): WorkforceError {
  return new WorkforceError(
    'thekedar_tampered',
    "The thekedar's stored record (its sites, phone or trust score) was changed outside the server: it is refused until restored from a backup",
  );
}

/** The ALARM of a refused legacy tagging of sites or thekedars (`table`, its marker `<kind>_seal`). */
export function alarmRecordLegacyRefused(
  kind: 'site' | 'thekedar',
): (logger: Logger, reason: LegacyTaggingRefusal) => void {
  const code = `${kind}_tampered`;
  return (logger, reason) =>
    logger.error(
      reason === 'tagged_rows'
        ? `ALARM: no ${kind}_seal marker but ${kind}s already carry tags: the legacy tagging was not run (it would mark rows written outside the server as legacy); untagged ${kind}s read as tampered (refused: ${code}). If this is an upgrade first started without FRAUD_LEGACY_TAGGING=1 (${kind}s created since), restart once with FRAUD_LEGACY_TAGGING=1 set explicitly; otherwise restore the ${kind}s and ${kind}_seal from a backup`
        : `ALARM: untagged ${kind}s, no ${kind}_seal marker and no tagged row, and FRAUD_LEGACY_TAGGING is off: the legacy tagging was not run; untagged ${kind}s read as tampered (refused: ${code}). If this start upgrades a store from a version without ${kind} tags, restart once with FRAUD_LEGACY_TAGGING=1`,
    );
}
