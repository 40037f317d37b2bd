import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  actorOf,
  ApiKeyService,
  AuthError,
  Clock,
  hmacSha256Hex,
  jcs,
  OBJECT_ID_PATTERN,
  safeEqual,
  sha256Hex,
  SHA256_HEX_PATTERN,
  UTC_TIMESTAMP_PATTERN,
} from '@app/common';
import { FraudEventType, FraudService } from '@app/fraud';
import {
  ONBOARDING_KEY_ROLES,
  OnboardingCredentials,
  OnboardingSponsor,
  WorkerAdmission,
  WorkerSponsor,
  WorkforceService,
} from '@app/workforce';
import { floorScore } from './domain/trust-score';
import { DeviceTrustService } from './device-trust.service';
import { OnboardingNonceRepository } from './infrastructure/persistence/onboarding-nonce.repository';
import { WorkerDeviceService } from './worker-device.service';
import { trustConfig, TrustSettings } from './trust.config';
import { DeviceTrustError, DeviceTrustErrorCode } from './device-trust.errors';

/** A thekedar's signed request, checked: who signed, with which device, and its score then. */
export interface ThekedarSignedRequest {
  thekedarId: string;
  deviceId: string;
  timestamp: string;
  signature: string;
  trustScore: number;
}

/** The exact bytes a thekedar's device signs: `<x-request-timestamp>.<JCS(body)>`. */
export function onboardingSigningInput(timestamp: string, body: unknown): string {
  return `${timestamp}.${jcs(body)}`;
}

/**
 * Who may create a worker: an admin key, or a thekedar's device that signs the request
 * (hex HMAC-SHA256 with the device secret over `<x-request-timestamp>.<JCS(body)>`), with a
 * timestamp within ONBOARDING_SIGNATURE_MAX_SKEW_SECONDS and a signature used only once.
 * Every refused signature is a fraud event.
 */
@Injectable()
export class AssistedOnboardingService implements WorkerAdmission {
  private readonly logger = new Logger(AssistedOnboardingService.name);
  private readonly maxSkewMs: number;

  constructor(
    private readonly apiKeys: ApiKeyService,
    private readonly devices: WorkerDeviceService,
    private readonly trust: DeviceTrustService,
    private readonly nonces: OnboardingNonceRepository,
    private readonly fraud: FraudService,
    private readonly workforce: WorkforceService,
    private readonly clock: Clock,
    @Inject(trustConfig.KEY) trustSettings: TrustSettings,
  ) {
    this.maxSkewMs = trustSettings.onboardingMaxSkewSeconds * 1000;
  }

  /** Decides who sponsors the worker described by `rawBody` (the JSON as received). */
  async admit(credentials: OnboardingCredentials, rawBody: unknown): Promise<OnboardingSponsor> {
    if (credentials.apiKey !== undefined) return { sponsor: this.admin(credentials.apiKey) };
    const signed = await this.admitThekedar(credentials, rawBody, 'worker creation');
    this.logger.log(
      { thekedarId: signed.thekedarId, deviceId: signed.deviceId },
      'Thekedar-signed worker creation',
    );
    return {
      sponsor: { kind: 'thekedar', thekedarId: signed.thekedarId },
      inheritedTrust: signed.trustScore,
      deviceId: signed.deviceId,
    };
  }

  async admitSites(admitted: OnboardingSponsor, siteIds: string[]): Promise<void> {
    const { sponsor, deviceId } = admitted;
    if (sponsor.kind !== 'thekedar') return;
    await this.admitThekedarSites(
      { thekedarId: sponsor.thekedarId, deviceId: deviceId! },
      siteIds,
      'worker creation',
      'siteIds',
    );
  }

  /**
   * Refuses a checked thekedar request that names a site the thekedar does not work on
   * (`purpose` as for `admitThekedar`; `field`: where the request names its sites, for the
   * answer's `errors`): a `site_not_allowed` fraud event naming its device (the
   * signature verified and was fresh: the device did send it, so it weighs on the device's
   * trust), then 403 `site_not_allowed`. An unknown site is refused the same way, so a
   * thekedar learns nothing of the sites it may not use.
   */
  async admitThekedarSites(
    signed: Pick<ThekedarSignedRequest, 'thekedarId' | 'deviceId'>,
    siteIds: string[],
    purpose: string,
    field: string,
  ): Promise<void> {
    const outside = await this.workforce.sitesOutsideThekedar(signed.thekedarId, siteIds);
    if (outside.length === 0) return;
    // a site id of a path is not validated yet: a malformed one is named as such
    const shown = outside.map((id) => (OBJECT_ID_PATTERN.test(id) ? id : '(a malformed id)'));
    await this.fraud.record({
      type: 'site_not_allowed',
      deviceId: signed.deviceId,
      siteId: outside.find((id) => OBJECT_ID_PATTERN.test(id)),
      detail: `${purpose} refused: site ${shown.join(', ')} is not a site of thekedar ${signed.thekedarId}`,
    });
    this.logger.warn(
      { thekedarId: signed.thekedarId, deviceId: signed.deviceId, sites: outside.length },
      `Thekedar-signed ${purpose} refused: a site the thekedar does not work on`,
    );
    throw new DeviceTrustError(
      'site_not_allowed',
      'This thekedar does not work on the site: an admin names its sites',
      shown.map((id) => ({ field, message: `not a site of this thekedar: ${id}` })),
    );
  }

  /**
   * Checks a thekedar-signed request (the scheme of worker creation, for any route):
   * `signed` is the value whose JCS follows `<x-request-timestamp>.` in the signed message
   * (the JSON body, or for a request without one, what the route says it signs). `purpose`
   * names the request in fraud event details.
   */
  async admitThekedar(
    credentials: Omit<OnboardingCredentials, 'apiKey'>,
    signed: unknown,
    purpose: string,
  ): Promise<ThekedarSignedRequest> {
    const { thekedarId, deviceId, signature, timestamp } = credentials;
    if (!thekedarId && !deviceId && !signature && !timestamp) {
      throw new AuthError(
        'unauthorized',
        'An admin x-api-key, or a thekedar signature (x-thekedar-id, x-device-id, x-request-timestamp, x-signature), is required',
      );
    }
    if (!thekedarId || !deviceId || !signature || !timestamp) {
      throw new DeviceTrustError(
        'missing_signature_headers',
        'A thekedar-signed request needs x-thekedar-id, x-device-id, x-request-timestamp and x-signature',
      );
    }
    const now = this.clock.now();
    const device = await this.devices.find(deviceId.slice(0, 64));
    // A refused request never names its device on the fraud event (so never lowers its trust):
    // anyone can send a device's id, and a signed request's bytes can be a captured copy,
    // replayed (late, twice, or under another x-thekedar-id, which is not signed). The device
    // it claims is in the detail.
    const refuse = async (
      type: FraudEventType,
      code: DeviceTrustErrorCode,
      message: string,
      detail: string,
    ): Promise<never> => {
      await this.fraud.record({
        type,
        detail: `${purpose} refused: ${detail} (x-device-id ${device?.deviceId ?? 'unknown'})`,
      });
      throw new DeviceTrustError(code, message);
    };
    const forged = (detail: string) =>
      refuse(
        'onboarding_signature_invalid',
        'invalid_signature',
        'The thekedar signature is not valid',
        detail,
      );
    if (!device) return forged('x-device-id is not a registered device');
    if (!SHA256_HEX_PATTERN.test(signature))
      return forged('x-signature is not 64 lowercase hex characters');
    let signingInput: string;
    try {
      signingInput = onboardingSigningInput(timestamp, signed);
    } catch {
      // no RFC 8785 form (too deep, not finite, lone surrogate): nothing could have signed it
      return forged('the body has no RFC 8785 canonical form');
    }
    const expected = Buffer.from(hmacSha256Hex(this.devices.secretOf(device), signingInput), 'hex');
    if (!safeEqual(expected, Buffer.from(signature, 'hex'))) {
      return forged('HMAC over <timestamp>.<JCS(body)> does not match');
    }
    if (device.user.kind !== 'thekedar' || device.user.id !== thekedarId) {
      return forged('x-device-id is not a device of this thekedar');
    }
    const at = UTC_TIMESTAMP_PATTERN.test(timestamp) ? new Date(timestamp) : undefined;
    if (
      !at ||
      Number.isNaN(at.getTime()) ||
      Math.abs(now.getTime() - at.getTime()) > this.maxSkewMs
    ) {
      return refuse(
        'onboarding_stale_timestamp',
        'stale_request',
        `x-request-timestamp must be ISO-8601 UTC within ${this.maxSkewMs / 1000} s of server time`,
        'x-request-timestamp outside the allowed skew',
      );
    }
    if (device.isBlocked) {
      return refuse(
        'device_blocked',
        'device_blocked',
        'This device is blocked',
        "the thekedar's device is blocked",
      );
    }
    // the floor judges a thekedar's phone here: it never syncs (403 thekedar_device), and its
    // signed requests are all it sends (the HMAC verified: `proven`). Under the floor it is
    // blocked, and the request refused, as a worker's phone's sync is (review LOW 3)
    const standing = await this.trust.score(device, undefined, now);
    const floor = await this.trust.enforceFloor(device, standing, undefined, now, true);
    if (floor === 'blocked') {
      // recorded as a worker's phone's sync blocked by the floor is: a `device_blocked` event
      // naming the device and its score (its HMAC verified; the event weighs nothing), listed
      // with the device's events, where the anonymous refusals below are not
      await this.fraud.record({
        type: 'device_blocked',
        deviceId: device.deviceId,
        detail: `${purpose} refused: the thekedar's device's trust score ${floorScore(standing, false).score} is below the auto-block floor`,
      });
      throw new DeviceTrustError('device_blocked', 'This device is blocked (trust score too low)');
    }
    if (floor === 'already_blocked') {
      return refuse(
        'device_blocked',
        'device_blocked',
        'This device is blocked (trust score too low)',
        "the thekedar's device is under the auto-block floor",
      );
    }
    const fresh = await this.nonces.claim(
      sha256Hex(`onboarding:${signature}`),
      new Date(at.getTime() + this.maxSkewMs + 60_000),
      now,
    );
    if (!fresh) {
      return refuse(
        'onboarding_replay',
        'replayed_request',
        'This signed request was already used',
        'the same signed request was sent again',
      );
    }
    return {
      thekedarId,
      deviceId: device.deviceId,
      timestamp,
      signature,
      trustScore: this.trust.inheritable(standing),
    };
  }

  private admin(apiKey: string): WorkerSponsor {
    const { principal } = this.apiKeys.authorize(apiKey, ONBOARDING_KEY_ROLES);
    return { kind: 'admin', actor: actorOf(principal) };
  }
}
