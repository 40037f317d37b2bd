import type { AccessDoc, Role } from '@app/common';
import { WorkerSponsor } from './domain/workforce';

/** The headers of a worker-creation request (either an admin key or a thekedar signature). */
export interface OnboardingCredentials {
  apiKey?: string;
  thekedarId?: string;
  deviceId?: string;
  signature?: string;
  timestamp?: string;
}

export interface OnboardingSponsor {
  sponsor: WorkerSponsor;
  /** The thekedar's score when a thekedar signed: the new worker stands on it for a while. */
  inheritedTrust?: number;
  /** The thekedar's device that signed (absent for an admin key). */
  deviceId?: string;
}

/**
 * Who may create a worker (the port OnboardingGuard asks): an admin key, or a request signed
 * by a thekedar's registered device. Judging a signature needs the device's secret and trust
 * score, so device-trust implements it (AssistedOnboardingService, bound by
 * WorkerAdmissionModule); workforce depends on no device code.
 */
export abstract class WorkerAdmission {
  abstract admit(credentials: OnboardingCredentials, rawBody: unknown): Promise<OnboardingSponsor>;
  /**
   * Where the admitted sponsor may create the worker, once the body is valid: an admin
   * anywhere, a thekedar at its own sites only (403 `site_not_allowed` and a fraud event for
   * any other, an unknown site the same). Before anything is stored.
   */
  abstract admitSites(admitted: OnboardingSponsor, siteIds: string[]): Promise<void>;
}

/** The key roles that may create a worker (the thekedar signature is the other way in). */
export const ONBOARDING_KEY_ROLES: readonly Role[] = ['admin'];

/**
 * What a thekedar-signed request is refused with (device-trust's AssistedOnboardingService),
 * beside the key's own refusals: no credential at all is `unauthorized`; a site the thekedar
 * does not work on is `site_not_allowed`.
 */
export const THEKEDAR_SIGNATURE_ERRORS = {
  401: ['unauthorized', 'missing_signature_headers', 'invalid_signature', 'stale_request'],
  403: ['replayed_request', 'device_blocked', 'site_not_allowed'],
  // the device secret is sealed under a master key version this replica lacks
  503: ['key_unavailable'],
} as const satisfies AccessDoc['errors'];

/** A key of `roles` or a thekedar signature: what OnboardingGuard and the timesheet routes take. */
export function keyOrThekedarAccess(roles: readonly Role[]): AccessDoc {
  return {
    credentials: [{ scheme: 'api-key', roles }, { scheme: 'thekedar-signature' }],
    errors: {
      401: THEKEDAR_SIGNATURE_ERRORS[401],
      403: ['forbidden', ...THEKEDAR_SIGNATURE_ERRORS[403]],
      503: THEKEDAR_SIGNATURE_ERRORS[503],
    },
  };
}
