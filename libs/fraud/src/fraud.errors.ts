import { CodeOf, DomainError } from '@app/common';

/** What the fraud event listing refuses with. */
export const FRAUD_ERRORS = {
  module: 'fraud',
  codes: {
    invalid_cursor: 'the cursor is not one this server issued',
  },
} as const;

export type FraudErrorCode = CodeOf<typeof FRAUD_ERRORS>;

export class FraudError extends DomainError<FraudErrorCode> {
  readonly module = FRAUD_ERRORS.module;
}
