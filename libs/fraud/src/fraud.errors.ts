import { CodeOf, DomainError } from '@app/common';

/** What the fraud event listing and reviews refuse with. */
export const FRAUD_ERRORS = {
  module: 'fraud',
  codes: {
    invalid_cursor: 'the cursor is not one this server issued',
    fraud_event_not_found: 'no fraud event has this id',
    fraud_event_tampered:
      'the fraud event or its review history was changed outside the server (its tags do not verify): it is listed marked tampered and cannot be reviewed',
    fraud_review_contended:
      'the review history of the fraud event kept changing while the review was written (other reviews at the same moment): nothing recorded, retry',
  },
} as const;

export type FraudErrorCode = CodeOf<typeof FRAUD_ERRORS>;

export class FraudError extends DomainError<FraudErrorCode> {
  readonly module = FRAUD_ERRORS.module;
}

/**
 * 503 `fraud_event_tampered`: a review of an event whose stored row or review history was
 * changed outside the server (FraudSeal). A review would chain onto the changed rows and tag
 * them as the server's own, so none is recorded until an operator restores the rows.
 */
export class FraudEventTamperedError extends FraudError {
  constructor(readonly eventId: string) {
    super(
      'fraud_event_tampered',
      'This fraud event or its review history was changed outside the server; it cannot be reviewed until an operator restores it',
    );
  }
}
