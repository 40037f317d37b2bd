import { Inject, Injectable, Logger } from '@nestjs/common';
import { Clock } from '@app/common';
import { FraudService } from '@app/fraud';
import { TRUST_DEFAULTS, WorkforceService } from '@app/workforce';
import { computeTrustScore, TrustRequestSignals, TrustScore } from './domain/trust-score';
import { WorkerDevice } from './domain/worker-device';
import { WorkerDeviceService } from './worker-device.service';
import { trustConfig, TrustSettings } from './trust.config';
import { DeviceTrustError } from './device-trust.errors';

export interface DeviceTrustReport extends TrustScore {
  deviceId: string;
  computedAt: Date;
}

/**
 * Trust scores (0-100) of worker devices and of the requests they send: the person's
 * standing (own, or inherited from a thekedar for TRUST_INHERITANCE_DAYS), the device's age,
 * its fraud history (weighted by type and recency), its block state and, for a request, its
 * headers and address. The formula is `computeTrustScore`; this service gathers its inputs.
 * Below TRUST_AUTO_BLOCK_FLOOR a device is blocked automatically (actor `system:trust`).
 */
@Injectable()
export class DeviceTrustService {
  private readonly logger = new Logger(DeviceTrustService.name);

  constructor(
    private readonly devices: WorkerDeviceService,
    private readonly workforce: WorkforceService,
    private readonly fraud: FraudService,
    private readonly clock: Clock,
    @Inject(trustConfig.KEY) private readonly settings: TrustSettings,
  ) {}

  /** The device's own score (no request signals), for admins. */
  async report(deviceId: string): Promise<DeviceTrustReport> {
    const device = await this.devices.find(deviceId);
    if (!device)
      throw new DeviceTrustError('device_not_found', 'No worker device has this deviceId');
    const now = this.clock.now();
    return { deviceId, ...(await this.score(device, undefined, now)), computedAt: now };
  }

  /** The score of `device`, and of the request it sends when `request` is given. */
  async score(
    device: WorkerDevice,
    request?: TrustRequestSignals,
    now = this.clock.now(),
  ): Promise<TrustScore> {
    const windowStart = new Date(now.getTime() - this.settings.fraudWindowDays * 86_400_000);
    const [baseline, events] = await Promise.all([
      this.baseline(device, now),
      this.fraud.historyOf(device.deviceId, windowStart),
    ]);
    return computeTrustScore({
      now,
      device,
      baseline,
      fraudEvents: events.filter((e) => e.at <= now),
      request,
      settings: this.settings,
    });
  }

  /**
   * A score below the floor blocks the device (once), recorded like an admin block:
   * `'blocked'` when this call blocked it; `'already_blocked'` when another request (on this
   * replica or another) blocked it since `device` was read, which then records nothing;
   * undefined when the score is not below the floor.
   */
  async enforceFloor(
    device: WorkerDevice,
    trust: TrustScore,
  ): Promise<'blocked' | 'already_blocked' | undefined> {
    const floor = this.settings.autoBlockFloor;
    if (floor <= 0 || trust.score >= floor || device.isBlocked) return undefined;
    const worst = trust.factors
      .filter((f) => f.effect < 0)
      .sort((a, b) => a.effect - b.effect)
      .slice(0, 3)
      .map((f) => `${f.name} ${f.effect} (${f.detail})`)
      .join('; ');
    const blocked = await this.devices.blockAutomatically(
      device.deviceId,
      `trust score ${trust.score} below the floor ${floor}: ${worst || 'no positive factors'}`,
    );
    if (!blocked) return 'already_blocked';
    this.logger.warn(
      { deviceId: device.deviceId, score: trust.score, floor },
      'Device auto-blocked',
    );
    return 'blocked';
  }

  isLow(trust: TrustScore): boolean {
    return trust.score < this.settings.lowThreshold;
  }

  private async baseline(
    device: WorkerDevice,
    now: Date,
  ): Promise<{ score: number; detail: string }> {
    if (device.user.kind === 'thekedar') {
      const thekedar = await this.workforce.findThekedar(device.user.id);
      return {
        score: thekedar?.trustScore ?? TRUST_DEFAULTS.thekedar,
        detail: "the thekedar's standing",
      };
    }
    const worker = await this.workforce.findWorker(device.user.id);
    if (!worker) return { score: TRUST_DEFAULTS.workerByAdmin, detail: 'worker record missing' };
    if (worker.sponsor.kind === 'thekedar' && worker.trustInheritedUntil) {
      if (now < worker.trustInheritedUntil) {
        return {
          score: worker.trustScore,
          detail: `inherited from thekedar ${worker.sponsor.thekedarId} until ${worker.trustInheritedUntil.toISOString()}`,
        };
      }
      return {
        score: TRUST_DEFAULTS.workerByAdmin,
        detail: `own record (inheritance from thekedar ${worker.sponsor.thekedarId} ended ${worker.trustInheritedUntil.toISOString()})`,
      };
    }
    return { score: worker.trustScore, detail: "the worker's own standing" };
  }
}
