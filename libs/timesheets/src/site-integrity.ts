import type { Site, WorkforceService } from '@app/workforce';
import { TimesheetsError } from './timesheets.errors';

/**
 * 503 `site_tampered` when the site's stored record does not verify (SiteSeal): its time zone
 * (which local day each punch falls on) may be a database writer's; nothing is read or paid.
 */
export function refuseTamperedSite(
  workforce: Pick<WorkforceService, 'tamperedSites'>,
  sites: readonly Site[],
  what: string,
): void {
  const tampered = workforce.tamperedSites(sites, what);
  if (tampered.length === 0) return;
  throw new TimesheetsError(
    'site_tampered',
    "This site's stored record (its time zone or geofence) was changed outside the server: its timesheets are neither read nor paid nor corrected until an operator restores it",
    tampered.map((siteId) => ({ field: 'siteId', message: siteId })),
  );
}
