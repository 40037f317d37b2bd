import { CodeOf, DomainError } from '@app/common';

/** What sites, thekedars, workers and enrollment codes refuse with. */
export const WORKFORCE_ERRORS = {
  module: 'workforce',
  codes: {
    site_not_found:
      'a named site does not exist (on worker creation `errors` lists each unknown siteId)',
    worker_not_found: 'no worker has this workerId',
    worker_exists:
      "another worker has this phone (spaces and dashes aside) at one of the sites, or among the thekedar's workers; nothing was stored. `errors` names the phone and, for an admin or the worker's own thekedar, the workerId",
    invalid_enrollment_code: 'the enrollment code is unknown, expired or already used',
  },
} as const;

export type WorkforceErrorCode = CodeOf<typeof WORKFORCE_ERRORS>;

export class WorkforceError extends DomainError<WorkforceErrorCode> {
  readonly module = WORKFORCE_ERRORS.module;
}
