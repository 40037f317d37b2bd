import { CodeOf, DomainError } from '@app/common';

/** What sites, thekedars, workers and enrollment codes refuse with. */
export const WORKFORCE_ERRORS = {
  module: 'workforce',
  codes: {
    site_not_found:
      'a named site does not exist (on worker creation `errors` lists each unknown siteId)',
    worker_not_found: 'no worker has this workerId',
    invalid_enrollment_code: 'the enrollment code is unknown, expired or already used',
  },
} as const;

export type WorkforceErrorCode = CodeOf<typeof WORKFORCE_ERRORS>;

export class WorkforceError extends DomainError<WorkforceErrorCode> {
  readonly module = WORKFORCE_ERRORS.module;
}
