import { CodeOf, DomainError } from '@app/common';

/** What the session HTTP routes refuse with (the relay's WebSocket codes are in docs/protocol.md). */
export const SESSION_ERRORS = {
  module: 'session',
  codes: {
    not_authenticated: 'no session token, or one that is not valid',
    wrong_token_type:
      'the session token is for another use (a device token where a mobile one is needed)',
    session_expired: 'the session token has expired',
    session_not_found: 'the session of the token does not exist',
  },
} as const;

export type SessionErrorCode = CodeOf<typeof SESSION_ERRORS>;

export class SessionError extends DomainError<SessionErrorCode> {
  readonly module = SESSION_ERRORS.module;
}
