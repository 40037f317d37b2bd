import { CodeOf, DomainError } from '@app/common';

/** What the fraud event listing and reviews refuse with. */
export const FRAUD_ERRORS = {
  module: 'fraud',
  codes: {
    invalid_cursor: 'the cursor is not one this server issued',
    fraud_event_not_found: 'no fraud event has this id',
  },
} as const;

export type FraudErrorCode = CodeOf<typeof FRAUD_ERRORS>;

export class FraudError extends DomainError<FraudErrorCode> {
  readonly module = FRAUD_ERRORS.module;
}
