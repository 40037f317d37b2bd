import { CodeOf, DomainError } from '@app/common';

/** What the relay's HTTP routes refuse with (its WebSocket codes are RELAY_ERROR_CODES, docs/protocol.md). */
export const RELAY_ERRORS = {
  module: 'relay',
  codes: {
    bus_unavailable:
      'the relay bus (Redis) is unavailable, so kiosk presence cannot be read; retry later',
  },
} as const;

export type RelayHttpErrorCode = CodeOf<typeof RELAY_ERRORS>;

export class RelayError extends DomainError<RelayHttpErrorCode> {
  readonly module = RELAY_ERRORS.module;
}
