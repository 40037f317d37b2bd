import { Inject, Injectable, Logger } from '@nestjs/common';
import { Clock } from '@app/common';
import { FraudIntegrity, FraudService, FraudWeight } from '@app/fraud';
import { Thekedar, TRUST_DEFAULTS, Worker, WorkforceService } from '@app/workforce';
import {
  blockReasonFactors,
  computeTrustScore,
  floorScore,
  TrustRequestSignals,
  TrustScore,
} from './domain/trust-score';
import { WorkerDevice } from './domain/worker-device';
import { WorkerDeviceService } from './worker-device.service';
import { trustConfig, TrustSettings } from './trust.config';
import { DeviceTrustError } from './device-trust.errors';

/**
 * The fraud rows a trust score counts: only those the server tagged (`verified`). A row changed
 * or inserted outside the server (`tampered`) never counts (review M2: forged rows lowered the
 * score, marked a worker's punches `lowTrust` and could block the device), and neither does a
 * `legacy` one (stored before the tags and tagged once at the upgrade; review M3): nobody can
 * vouch for what it held, and a database writer who deletes every tagged row and clears the
 * `fraud_seal` marker gets untagged rows tagged as legacy at the next start. The score shown,
 * a packet's `meta.deviceTrustScore` and `lowTrust` and the automatic block all count the same.
 */
const COUNTED: ReadonlySet<FraudIntegrity> = new Set<FraudIntegrity>(['verified']);

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

  /**
   * The device's own score (no request signals), for admins. It is the score the auto-block
   * floor judges (`floorScore`): an unblocked device under the floor says why in its
   * `block_state` factor (its next sync is refused and blocks it; or an admin unblocked it and
   * the floor weighs only the events since).
   */
  async report(deviceId: string): Promise<DeviceTrustReport> {
    const device = await this.devices.find(deviceId);
    if (!device)
      throw new DeviceTrustError('device_not_found', 'No worker device has this deviceId');
    const now = this.clock.now();
    const trust = await this.score(device, undefined, now);
    const floor = this.settings.autoBlockFloor;
    if (floor > 0 && !device.isBlocked && trust.score < floor) {
      const { judged, unblocked } = await this.judgedSinceUnblock(device, now, undefined);
      // a thekedar's phone never syncs (403 thekedar_device): its signed onboarding requests
      // are where the floor judges it (`AssistedOnboardingService.admitThekedar`)
      const next =
        device.user.kind === 'thekedar'
          ? "its next signed thekedar request (a worker's creation, a timesheet read or correction) is refused (403 device_blocked) and blocks it"
          : 'its next sync is refused (403 device_blocked) and blocks it';
      const detail =
        judged.score < floor || !unblocked
          ? `not blocked yet: under the auto-block floor ${floor}, so ${next}`
          : `not blocked: an admin unblocked it at ${unblocked.toISOString()}, and the auto-block floor ${floor} weighs only the fraud events since (score ${judged.score})`;
      return {
        deviceId,
        score: trust.score,
        factors: trust.factors.map((f) => (f.name === 'block_state' ? { ...f, detail } : f)),
        computedAt: now,
      };
    }
    return { deviceId, ...trust, computedAt: now };
  }

  /** The score of `device`, and of the request it sends when `request` is given. */
  async score(
    device: WorkerDevice,
    request?: TrustRequestSignals,
    now = this.clock.now(),
  ): Promise<TrustScore> {
    const [standing, histories] = await Promise.all([
      this.baseline(device, now),
      this.fraud.weighingHistories([device.deviceId], this.windowStart(now), now, COUNTED),
    ]);
    const baseline = await this.afterUnblock(device, standing, now);
    return this.compute(device, baseline, histories.get(device.deviceId)?.counted, now, request);
  }

  /**
   * The device scores of a page of devices (no request signals), by deviceId: the same
   * formula as `score`, its inputs read for the whole page at once (the workers in one read,
   * the fraud histories in one).
   */
  async scoreAll(
    devices: readonly WorkerDevice[],
    now = this.clock.now(),
  ): Promise<Map<string, TrustScore>> {
    const workerIds = devices.filter((d) => d.user.kind === 'worker').map((d) => d.user.id);
    const thekedarIds = [
      ...new Set(devices.filter((d) => d.user.kind === 'thekedar').map((d) => d.user.id)),
    ];
    const [workers, thekedars, histories] = await Promise.all([
      workerIds.length > 0 ? this.workforce.findWorkers([...new Set(workerIds)]) : [],
      Promise.all(thekedarIds.map((id) => this.workforce.findThekedar(id))),
      this.fraud.weighingHistories(
        devices.map((d) => d.deviceId),
        this.windowStart(now),
        now,
        COUNTED,
      ),
    ]);
    const workerById = new Map(workers.map((w) => [w.id, w]));
    const thekedarById = new Map(thekedarIds.map((id, i) => [id, thekedars[i]]));
    const scores = new Map<string, TrustScore>();
    for (const device of devices) {
      const baseline = await this.afterUnblock(
        device,
        device.user.kind === 'thekedar'
          ? thekedarBaseline(thekedarById.get(device.user.id))
          : workerBaseline(workerById.get(device.user.id), now),
        now,
      );
      scores.set(
        device.deviceId,
        this.compute(device, baseline, histories.get(device.deviceId)?.counted, now),
      );
    }
    return scores;
  }

  /**
   * A score below the floor blocks the device (once), recorded like an admin block:
   * `'blocked'` when this call blocked it; `'already_blocked'` when another request (on this
   * replica or another) blocked it since `device` was read, which then records nothing;
   * undefined when the score is not below the floor.
   *
   * The floor judges `floorScore`: the device's own score (the admin's `…/trust` view, so a
   * device scoring under the floor there is blocked by its next sync, whatever headers it
   * sends; integrator finding 1), never raised by the request's positive factors.
   *
   * An admin's unblock is a decision on the history up to it, and holds: after one, the floor
   * weighs only the fraud events recorded since, on a baseline of at least the floor (a worker
   * a thekedar onboarded may inherit a standing under it: counted as is, the unblock was undone
   * by the next sync, with no new evidence). The score itself still counts every event in the
   * window.
   *
   * The request's own negative factors (its headers and address, REQUEST_FACTORS) count only
   * when `proven` is true: a packet of the request proved the sender holds the device's secret,
   * which the sync knows after its append (a packet this request appended: its HMAC verified and
   * the ledger's unique index took it from this request, not from another). Its headers are the
   * sender's choice, and a bearer token alone, or with a captured request (a packet the ledger
   * holds, or one the server refused after its HMAC verified and so never stored), must not block
   * a phone with them (review MED 3, and the reviews after it). The request's score is still the
   * one answered, logged and put in the packets' meta. `proven` undefined (before the append: not
   * known yet) answers `'unproven'` where only the headers take the score under the floor, and
   * logs nothing: the caller judges again after its append. `false` logs that the headers
   * blocked nothing.
   */
  async enforceFloor(
    device: WorkerDevice,
    trust: TrustScore,
    request: TrustRequestSignals | undefined,
    now: Date,
    proven: boolean | undefined,
  ): Promise<'blocked' | 'already_blocked' | 'unproven' | undefined> {
    const floor = this.settings.autoBlockFloor;
    if (floor <= 0 || device.isBlocked || floorScore(trust, true).score >= floor) return undefined;
    const { judged, unblocked } = await this.judgedSinceUnblock(device, now, request);
    const withHeaders = floorScore(judged, true);
    if (withHeaders.score >= floor) return undefined;
    const counted = floorScore(judged, proven === true);
    if (counted.score >= floor) {
      if (proven === undefined) return 'unproven';
      this.logger.warn(
        { deviceId: device.deviceId, score: withHeaders.score, floor },
        "Request scored below the auto-block floor by its own headers and appended no packet (no proof of the device's secret): not blocked",
      );
      return undefined;
    }
    const sinceUnblock = unblocked ? ` since the unblock of ${unblocked.toISOString()}` : '';
    const blocked = await this.devices.blockAutomatically(
      device.deviceId,
      `trust score ${counted.score}${sinceUnblock} below the floor ${floor}: ${blockReasonFactors(counted) || 'no positive factors'}`,
    );
    if (!blocked) return 'already_blocked';
    this.logger.warn(
      { deviceId: device.deviceId, score: counted.score, floor },
      'Device auto-blocked',
    );
    return 'blocked';
  }

  /**
   * The score of `device` (and `request`) counting the fraud events since the admin's latest
   * unblock only (all of the window when there was none), and that unblock's time. After an
   * unblock the baseline counts at least the auto-block floor: the standing under it was part of
   * the history the admin decided on (review MED 2).
   */
  private async judgedSinceUnblock(
    device: WorkerDevice,
    now: Date,
    request: TrustRequestSignals | undefined,
  ): Promise<{ judged: TrustScore; unblocked: Date | undefined }> {
    const unblocked = await this.devices.lastUnblockedAt(device.deviceId, now);
    const since = unblocked
      ? new Date(Math.max(this.windowStart(now).getTime(), unblocked.getTime() + 1))
      : this.windowStart(now);
    const [standing, histories] = await Promise.all([
      this.baseline(device, now),
      this.fraud.weighingHistories([device.deviceId], since, now, COUNTED),
    ]);
    const baseline = await this.afterUnblock(device, standing, now, unblocked ?? null);
    const judged = this.compute(
      device,
      baseline,
      histories.get(device.deviceId)?.counted,
      now,
      request,
    );
    return { judged, unblocked };
  }

  /**
   * The device's `standing`, counted at least at the auto-block floor once an admin unblocked
   * it: a standing under the floor (a worker a thekedar onboarded inherits the thekedar
   * device's score, snapshotted; an operator who raises the floor over it) was part of the
   * history the admin decided on (review MED 2). The one rule of every device score: the sync's
   * and the floor's, the admin's `…/trust` and the listing's `liveTrustScore`, which used to
   * count the standing as is and so showed a device an admin had unblocked under the floor, as
   * one its next sync blocks, while `…/trust` said it was not. The latest unblock is read only
   * for a standing under the floor (`unblocked`: when the caller read it already; null: none).
   */
  private async afterUnblock(
    device: WorkerDevice,
    standing: Baseline,
    now: Date,
    unblocked?: Date | null,
  ): Promise<Baseline> {
    const floor = this.settings.autoBlockFloor;
    if (floor <= 0 || standing.score >= floor) return standing;
    const at =
      unblocked === undefined
        ? await this.devices.lastUnblockedAt(device.deviceId, now)
        : (unblocked ?? undefined);
    if (!at) return standing;
    return {
      score: floor,
      detail: `${standing.detail} (${standing.score}), counted at the auto-block floor since the unblock`,
    };
  }

  /**
   * The standing a worker a thekedar's device onboards inherits from that device's `trust`: its
   * score, at least the auto-block floor. A device the floor let through stands on or above it,
   * unless an admin unblocked it and only the events since keep it there; its worker's phone,
   * with no evidence of its own, would otherwise be blocked by its first sync, and again after
   * every unblock (review MED 2).
   */
  inheritable(trust: TrustScore): number {
    return Math.max(trust.score, this.settings.autoBlockFloor);
  }

  isLow(trust: TrustScore): boolean {
    return trust.score < this.settings.lowThreshold;
  }

  private async baseline(
    device: WorkerDevice,
    now: Date,
  ): Promise<{ score: number; detail: string }> {
    if (device.user.kind === 'thekedar') {
      return thekedarBaseline(await this.workforce.findThekedar(device.user.id));
    }
    return workerBaseline(await this.workforce.findWorker(device.user.id), now);
  }

  private windowStart(now: Date): Date {
    return new Date(now.getTime() - this.settings.fraudWindowDays * 86_400_000);
  }

  private compute(
    device: WorkerDevice,
    baseline: Baseline,
    history: FraudWeight[] | undefined,
    now: Date,
    request?: TrustRequestSignals,
  ): TrustScore {
    return computeTrustScore({
      now,
      device,
      baseline,
      fraudEvents: history ?? [],
      request,
      settings: this.settings,
    });
  }
}

type Baseline = { score: number; detail: string };

/**
 * The thekedar's standing. A thekedar whose record reads tampered (its tag does not verify:
 * ThekedarSeal) stands on the default a thekedar is created with, as a worker whose record is
 * tampered or missing stands on its own default: the trust score as stored is a database
 * writer's choice, raised to keep a device above the auto-block floor or lowered to block it.
 */
function thekedarBaseline(thekedar: Thekedar | undefined): Baseline {
  if (thekedar?.integrity === 'tampered') {
    return {
      score: TRUST_DEFAULTS.thekedar,
      detail: "thekedar record tampered (its stored score is not used): the thekedar's default",
    };
  }
  return {
    score: thekedar?.trustScore ?? TRUST_DEFAULTS.thekedar,
    detail: "the thekedar's standing",
  };
}

/** The worker's own standing, or the thekedar's while the inheritance lasts. */
function workerBaseline(worker: Worker | undefined, now: Date): Baseline {
  if (!worker) return { score: TRUST_DEFAULTS.workerByAdmin, detail: 'worker record missing' };
  // its stored score, sponsor and inheritance are a database writer's choice (WorkerSeal): the
  // sync and the token refresh refuse such a worker before scoring; the admin's report and
  // listing show the default
  if (worker.integrity === 'tampered') {
    return {
      score: TRUST_DEFAULTS.workerByAdmin,
      detail: 'worker record tampered (its stored score is not used)',
    };
  }
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
