import { CodeOf, DomainError } from '@app/common';

/** What kiosk provisioning (the Wi-Fi challenge) refuses with. */
export const PROVISIONING_ERRORS = {
  module: 'provisioning',
  codes: {
    challenge_not_found:
      'no challenge has this bson_id (the admin routes; validate-challenge answers challenge_mismatch)',
    invalid_wifi_password:
      'wifi_password is not what WPA2 takes: empty (an open network), 8-63 printable ASCII characters (space to ~), or exactly 64 hex digits',
    invalid_challenge_response: 'challenge_response does not decode to the challenge length',
    challenge_mismatch:
      'the challenge response is wrong, or no open challenge has this bson_id (the same answer for both)',
    challenge_locked: 'too many wrong answers: the challenge is locked; ask for a new one',
    challenge_expired: 'the challenge has expired; ask for a new one',
    challenge_used: 'the challenge has already been used',
    challenge_revoked:
      "the kiosk's key was rotated, or the kiosk blocked, after the challenge was issued; ask for a new one",
    device_blocked: 'the kiosk is blocked or not registered',
    challenge_spent_unreleased:
      "the right answer: the server's store failed after the challenge was marked used, and giving it back failed too: the challenge stays spent and no credentials were released; ask for a new challenge (retrying this one usually answers challenge_used; challenge_not_found once the spent challenge is purged, storage_unavailable or store_unavailable while the store still fails)",
  },
} as const;

export type ProvisioningErrorCode = CodeOf<typeof PROVISIONING_ERRORS>;

export class ProvisioningError extends DomainError<ProvisioningErrorCode> {
  readonly module = PROVISIONING_ERRORS.module;
}
