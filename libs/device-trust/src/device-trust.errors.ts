import { CodeOf, DomainError } from '@app/common';

/**
 * What worker devices, token refresh and thekedar-signed requests refuse with (a request with no
 * credential at all is the common `unauthorized`).
 */
export const DEVICE_TRUST_ERRORS = {
  module: 'device-trust',
  codes: {
    device_not_found: 'no worker device has this deviceId',
    missing_signature_headers:
      'a thekedar-signed request needs x-thekedar-id, x-device-id, x-request-timestamp and x-signature',
    invalid_signature: 'the device or thekedar signature does not verify',
    stale_request: 'the signed timestamp is outside the allowed clock skew',
    replayed_request: 'this signed request was already used; sign a new one',
    device_blocked: 'the signing device is blocked',
    worker_inactive:
      "the phone's worker was deactivated (left): no new offline token until an admin reactivates it",
    worker_tampered:
      "the phone's worker's stored record does not verify under the server's store-MAC tag (changed outside the server: its sites, status, phone…), or is missing (the row deleted outside the server): no new offline token until an operator restores the record from a backup",
    site_not_allowed:
      "a thekedar-signed request names a site the thekedar does not work on (an admin names a thekedar's sites); an unknown site is answered the same, and nothing was stored. On worker creation `errors` lists each such siteId",
  },
} as const;

export type DeviceTrustErrorCode = CodeOf<typeof DEVICE_TRUST_ERRORS>;

export class DeviceTrustError extends DomainError<DeviceTrustErrorCode> {
  readonly module = DEVICE_TRUST_ERRORS.module;
}
