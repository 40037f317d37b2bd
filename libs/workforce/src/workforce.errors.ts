import { CodeOf, DomainError } from '@app/common';

/** What sites, thekedars, workers and enrollment codes refuse with. */
export const WORKFORCE_ERRORS = {
  module: 'workforce',
  codes: {
    site_not_found:
      'a named site does not exist (on worker creation `errors` lists each unknown siteId)',
    worker_not_found: 'no worker has this workerId',
    thekedar_not_found: 'no thekedar has this thekedarId',
    worker_exists:
      "another worker has this phone number (compared in E.164: `+91 98765 43210`, `09876543210` and `9876543210` are one number when PHONE_DEFAULT_COUNTRY is IN) at one of the sites, or among the thekedar's workers; nothing was stored. `errors` names the field and, for an admin or the worker's own thekedar, the workerId",
    invalid_phone:
      'the phone is not a possible number: too short or too long for its country (the country code it starts with, `+…` or `00…`, or else PHONE_DEFAULT_COUNTRY); the answer never repeats the number',
    invalid_enrollment_code: 'the enrollment code is unknown, expired or already used',
    legacy_time_zone:
      "a site's `timeZone` is a fixed-offset or legacy zone id (`EST`, `MST`, `HST`, `EST5EDT`, `CST6CDT`, `MST7MDT`, `PST8PDT`, `CET`, `MET`, `EET`, `WET`, `Etc/GMT+5`…): none follows a real place's daylight saving and history (`Etc/GMT+5` is UTC−5). Give the region's name, such as America/New_York or Asia/Kolkata (UTC for none); the zone cannot be changed after creation",
    time_zone_immutable:
      "PATCH of a site with `timeZone`: a site's time zone cannot be changed after creation, since every worker-day, timesheet and payroll period of the site is a local day there and would move; create a new site with the right zone",
    worker_inactive:
      'the worker was deactivated (left): no phone registers for it and no enrollment code is issued until an admin reactivates it (POST /api/v5/workers/:workerId/reactivate)',
    site_tampered:
      "a site's stored record (its geofence, time zone or name) does not verify under the server's store-MAC tag (SiteSeal): it was changed outside the server. No admin change of it is taken and no worker or thekedar is given it (each would vouch for fields nobody checked) until an operator restores the record from a backup; `errors` names the siteIds",
    thekedar_tampered:
      "the thekedar's stored record (its sites, phone or trust score) does not verify under the server's store-MAC tag (ThekedarSeal): it was changed outside the server (a site added would let it onboard, correct and read payroll there). Its signed requests, its registration and an admin's change of its sites are refused until an operator restores the record from a backup",
    worker_tampered:
      "the worker's stored record (name, phone, sites, status, trust score, or its newest event) does not verify under the server's store-MAC tag: it was changed outside the server. No phone registers for it, no enrollment code is issued and no admin change is taken (each would vouch for fields nobody checked) until an operator restores the record from a backup",
    workforce_change_contended:
      'MongoDB: the worker, site or thekedar (or its enrollment code) kept changing while the change was written (other changes of it at the same moment, on this server or another): nothing was recorded, retry',
  },
} as const;

export type WorkforceErrorCode = CodeOf<typeof WORKFORCE_ERRORS>;

export class WorkforceError extends DomainError<WorkforceErrorCode> {
  readonly module = WORKFORCE_ERRORS.module;
}

/**
 * 503 `workforce_change_contended`: a compare-and-set over a worker, site, thekedar or
 * enrollment code (MongoDB) missed REPLACE_ATTEMPTS times in a row, each miss another change of
 * it written meanwhile. Nothing was written by this request; the same request may be sent again.
 */
export function workforceChangeContended(what: string): WorkforceError {
  return new WorkforceError(
    'workforce_change_contended',
    `The ${what} kept changing while this change was written; nothing was recorded, retry`,
  );
}
