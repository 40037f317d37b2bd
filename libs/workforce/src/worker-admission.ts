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
}

/**
 * Who may create a worker (the port OnboardingGuard asks): an admin key, or a request signed
 * by a thekedar's registered device. Judging a signature needs the device's secret and trust
 * score, so device-trust implements it (AssistedOnboardingService, bound by
 * WorkerAdmissionModule); workforce depends on no device code.
 */
export abstract class WorkerAdmission {
  abstract admit(credentials: OnboardingCredentials, rawBody: unknown): Promise<OnboardingSponsor>;
}
