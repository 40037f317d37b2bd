import { Inject, Injectable, Logger } from '@nestjs/common';
import { Clock, hmacSha256Hex, safeEqual, sha256Hex } from '@app/common';
import { FraudService } from '@app/fraud';
import { WorkforceService } from '@app/workforce';
import { OnboardingNonceRepository } from './infrastructure/persistence/onboarding-nonce.repository';
import { IssuedTokens } from './token/issued-tokens.service';
import { WorkerDeviceService } from './worker-device.service';
import { WorkerDevice } from './domain/worker-device';
import { offlineTokenConfig, OfflineTokenSettings } from './offline-token.config';
import { DeviceTrustError, DeviceTrustErrorCode } from './device-trust.errors';

/** The exact text a phone signs to refresh its offline token. */
export function tokenRefreshSigningInput(deviceId: string, timestamp: string): string {
  return `mdai.token-refresh.${deviceId}.${timestamp}`;
}

export interface RefreshedToken {
  token: string;
  expiresAt: Date;
  graceEndsAt: Date;
}

/**
 * A phone trades proof of its device secret for a fresh offline token: hex HMAC-SHA256 with
 * the secret over `mdai.token-refresh.<deviceId>.<timestamp>`, the timestamp within
 * SYNC_MAX_CLOCK_SKEW_SECONDS of server time, each signature usable once (the replay marks of
 * OnboardingNonceRepository). A blocked device gets no token. Refusals are fraud events.
 * A worker's token carries the worker's sites as they are now (an admin may have moved it since
 * the phone registered); a worker who was deactivated gets none (403 worker_inactive: not a
 * fraud event, a worker who left is no attacker).
 */
@Injectable()
export class TokenRefreshService {
  private readonly logger = new Logger(TokenRefreshService.name);
  private readonly skewMs: number;
  private readonly graceMs: number;

  constructor(
    private readonly devices: WorkerDeviceService,
    private readonly tokens: IssuedTokens,
    private readonly nonces: OnboardingNonceRepository,
    private readonly fraud: FraudService,
    private readonly workforce: WorkforceService,
    private readonly clock: Clock,
    @Inject(offlineTokenConfig.KEY) settings: OfflineTokenSettings,
  ) {
    this.skewMs = settings.maxClockSkewSeconds * 1000;
    this.graceMs = settings.tokenGraceSeconds * 1000;
  }

  async refresh(input: {
    deviceId: string;
    timestamp: string;
    signature: string;
  }): Promise<RefreshedToken> {
    const now = this.clock.now();
    const device = await this.devices.find(input.deviceId);
    // a refused refresh never names its device on the fraud event (so never lowers its trust):
    // anyone can send a device's id, and a signed refresh can be a captured copy, replayed
    const refuse = async (code: DeviceTrustErrorCode, message: string, detail: string) => {
      await this.fraud.record({
        type: 'invalid_token',
        detail: `token refresh refused: ${detail} (device ${device?.deviceId ?? 'unknown'})`,
      });
      return new DeviceTrustError(code, message);
    };
    const expected = device
      ? Buffer.from(
          hmacSha256Hex(
            this.devices.secretOf(device),
            tokenRefreshSigningInput(device.deviceId, input.timestamp),
          ),
          'hex',
        )
      : Buffer.alloc(32);
    if (!device || !safeEqual(expected, Buffer.from(input.signature, 'hex'))) {
      throw await refuse(
        'invalid_signature',
        'The refresh signature is not valid for this device',
        device ? 'HMAC does not match' : 'unknown device',
      );
    }
    const at = new Date(input.timestamp).getTime();
    if (!Number.isFinite(at) || Math.abs(now.getTime() - at) > this.skewMs) {
      throw await refuse(
        'stale_request',
        `timestamp must be within ${this.skewMs / 1000} s of server time (${now.toISOString()})`,
        'timestamp outside the allowed skew',
      );
    }
    if (device.isBlocked) {
      throw await refuse('device_blocked', 'This device is blocked', 'the device is blocked');
    }
    const siteIds = await this.sitesOf(device);
    const fresh = await this.nonces.claim(
      sha256Hex(`token-refresh:${input.signature}`),
      new Date(at + this.skewMs + 60_000),
      now,
    );
    if (!fresh) {
      throw await refuse(
        'replayed_request',
        'This signed refresh was already used; sign a new one',
        'the same signed refresh was sent again',
      );
    }
    const { token, claims } = await this.tokens.issue(
      { deviceId: device.deviceId, workerId: device.user.id, siteIds },
      now,
    );
    this.logger.log({ deviceId: device.deviceId }, 'Offline token refreshed');
    return {
      token,
      expiresAt: claims.expiresAt,
      graceEndsAt: new Date(claims.expiresAt.getTime() + this.graceMs),
    };
  }

  /**
   * The sites a new token of `device` carries: its worker's now, or 403 worker_inactive for a
   * worker who was deactivated, 403 worker_tampered for one whose record does not verify or is
   * gone (the server never deletes a worker: deleted outside the server). A thekedar's phone
   * keeps the sites it registered with.
   */
  private async sitesOf(device: WorkerDevice): Promise<string[]> {
    if (device.user.kind !== 'worker') return device.siteIds;
    const worker = await this.workforce.findWorker(device.user.id);
    if (!worker) {
      this.logger.error(
        { deviceId: device.deviceId, workerId: device.user.id },
        "ALARM: token refresh refused: the phone's worker record is missing (deleted outside the server)",
      );
      throw new DeviceTrustError(
        'worker_tampered',
        "This phone's worker's stored record is missing (deleted outside the server); no new token until an operator restores it",
      );
    }
    if (worker.integrity === 'tampered') {
      this.logger.warn({ deviceId: device.deviceId }, 'Token refresh refused: worker tampered');
      throw new DeviceTrustError(
        'worker_tampered',
        "This phone's worker's stored record was changed outside the server; no new token until an operator restores it",
      );
    }
    if (worker.status === 'inactive') {
      this.logger.log({ deviceId: device.deviceId }, 'Token refresh refused: worker inactive');
      throw new DeviceTrustError(
        'worker_inactive',
        "This phone's worker was deactivated; no new token until an admin reactivates the worker",
      );
    }
    return worker.siteIds;
  }
}
