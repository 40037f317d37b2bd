import { Injectable, Logger, Optional } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { actorOf, Clock, MetricsRegistry, newId, Principal } from '@app/common';
import { legacyTaggingRefusedGauge } from '@app/persistence';
import { KeyringService, ResealReport } from '@app/vault';
import { WorkforceService } from '@app/workforce';
import {
  DeviceFingerprint,
  deviceSecretContext,
  WorkerDevice,
  WorkerDeviceEvent,
} from './domain/worker-device';
import {
  DeviceWriteUncertainError,
  WorkerDeviceLegacySeal,
  WorkerDeviceRepository,
} from './infrastructure/persistence/worker-device.repository';
import { IssuedTokens } from './token/issued-tokens.service';
import type { WorkerDeviceRetagOutcome } from './infrastructure/persistence/worker-device-seal';
import { DeviceTrustError } from './device-trust.errors';

export type { WorkerDeviceRetagOutcome };

export interface RegisteredWorkerDevice {
  device: WorkerDevice;
  /** base64 of the 32 secret bytes: returned once, never stored in the clear. */
  deviceSecret: string;
  offlineToken: string;
  offlineTokenExpiresAt: Date;
}

/**
 * How many ignored unblocks (device and event) a process remembers having logged: beyond, the
 * oldest is forgotten (and logged again if read again).
 */
const IGNORED_UNBLOCKS_REMEMBERED = 4096;

/**
 * Worker phones: registration with an enrollment code, the sealed device secret, block and
 * unblock. OfflineSync asks this service for a device and its secret, never the repository.
 */
@Injectable()
export class WorkerDeviceService {
  private readonly logger = new Logger(WorkerDeviceService.name);
  /** The ignored unblocks logged already (device and event), oldest first. */
  private readonly ignoredUnblocksLogged = new Set<string>();

  constructor(
    private readonly devices: WorkerDeviceRepository,
    private readonly workforce: WorkforceService,
    private readonly keyring: KeyringService,
    private readonly tokens: IssuedTokens,
    private readonly clock: Clock,
    @Optional() metrics?: MetricsRegistry,
  ) {
    keyring.holdsSealedValues('worker-device secrets', devices);
    // the legacy tagging this start refused (every phone from before the tags reads blocked):
    // a state (the fraud store's refusal counts in mdai_fraud_events_tampered_total; a device
    // refused is no tampered event)
    // and the retirement of the form v1 this start refused (the v1-retired marker gone while v2
    // states are stored): every v1 phone reads blocked the same way
    legacyTaggingRefusedGauge(
      'mdai_worker_devices_legacy_tagging_refused',
      'Whether this start refused to tag the worker devices from before the tags (FRAUD_LEGACY_TAGGING off, or the worker_device_seal marker gone), or to retire their state tags of the form v1 (the v1-retired marker gone while v2 tags are stored): 1 while every such phone reads blocked (403 device_blocked)',
      {
        get legacyRefused() {
          return devices.legacyRefused ?? (devices.v1RetirementRefused ? 'tagged_rows' : undefined);
        },
      },
      metrics,
    );
  }

  /** When the devices from before the tags were tagged as legacy, how many, or that it was refused. */
  legacySeal(): Promise<WorkerDeviceLegacySeal> {
    return this.devices.legacySeal();
  }

  /** Re-seals every device secret under the active master key (reseal-all job). */
  resealSecrets(): Promise<ResealReport> {
    return this.keyring.resealAll('worker-device secrets', this.devices, deviceSecretContext);
  }

  async register(
    enrollmentCode: string,
    fingerprint: DeviceFingerprint,
  ): Promise<RegisteredWorkerDevice> {
    const deviceId = newId();
    const person = await this.workforce.redeemEnrollment(enrollmentCode, deviceId);
    const secret = randomBytes(32);
    const now = this.clock.now();
    let issued: ReturnType<IssuedTokens['prepare']>;
    let device: WorkerDevice;
    try {
      device = {
        id: newId(),
        deviceId,
        user: { kind: person.kind, id: person.id },
        siteIds: person.siteIds,
        fingerprint: {
          os: fingerprint.os,
          model: fingerprint.model,
          simHash: fingerprint.simHash,
        },
        sealedSecret: this.keyring.seal(secret, deviceSecretContext(deviceId)),
        trustScore: person.trustScore,
        isBlocked: false,
        createdAt: now,
      };
      issued = this.tokens.prepare({ deviceId, workerId: person.id, siteIds: person.siteIds }, now);
      // the device and its token's record together (one transaction on SQLite): a record that
      // fails leaves no device behind
      await this.devices.register(
        device,
        {
          id: newId(),
          deviceId,
          action: 'registered',
          actor: `${person.kind}:${person.id}`,
          at: now,
        },
        issued.record,
      );
    } catch (error) {
      if (error instanceof DeviceWriteUncertainError) {
        // the device may be stored (or land still): its code stays spent, or a second
        // registration with it would make a second device; the phone, which got no secret,
        // retries and is told the code is used, and an admin issues a new one
        this.logger.warn(
          { deviceId, err: (error.cause as Error)?.message },
          'Registration failed with its device perhaps stored: its enrollment code is kept spent',
        );
        throw error.cause;
      }
      await this.giveBack(enrollmentCode, deviceId);
      throw error;
    }
    const { token, claims } = issued;
    this.logger.log({ deviceId, user: device.user }, 'Worker device registered');
    return {
      device,
      deviceSecret: secret.toString('base64'),
      offlineToken: token,
      offlineTokenExpiresAt: claims.expiresAt,
    };
  }

  /**
   * The code of a registration that failed after spending it (nothing of its device stored) is
   * given back, so the phone can try again with it; if even that fails, an admin issues a new
   * code (as for a lost one).
   */
  private async giveBack(enrollmentCode: string, deviceId: string): Promise<void> {
    try {
      await this.workforce.releaseEnrollment(enrollmentCode, deviceId);
    } catch (error) {
      this.logger.error(
        { deviceId, err: (error as Error).message },
        'Registration failed and its enrollment code could not be given back',
      );
    }
  }

  find(deviceId: string): Promise<WorkerDevice | undefined> {
    return this.devices.findByDeviceId(deviceId);
  }

  /** The device's HMAC key (opened from its sealed form). Never log or return it. */
  secretOf(device: WorkerDevice): Buffer {
    return this.keyring.open(device.sealedSecret, deviceSecretContext(device.deviceId));
  }

  async touch(deviceId: string, at = this.clock.now(), ip?: string): Promise<void> {
    await this.devices.touchLastSeen(deviceId, at, ip);
  }

  /** deviceIds registered from the same physical phone (same SIM hash), this one included. */
  async siblingsOf(device: WorkerDevice): Promise<string[]> {
    const ids = await this.devices.listDeviceIdsBySimHash(device.fingerprint.simHash);
    return ids.includes(device.deviceId) ? ids : [...ids, device.deviceId];
  }

  /**
   * The phone's first registration: of the devices with this SIM hash, the one registered
   * earliest (then the smallest deviceId). Devices registered later on the same phone are the
   * newcomers the shared-device rule looks at.
   */
  async establishedOf(device: WorkerDevice): Promise<string> {
    const ids = await this.siblingsOf(device);
    const siblings = await Promise.all(
      ids.map((id) =>
        id === device.deviceId ? Promise.resolve(device) : this.devices.findByDeviceId(id),
      ),
    );
    let first = device;
    for (const sibling of siblings) {
      if (!sibling) continue;
      const earlier =
        sibling.createdAt.getTime() < first.createdAt.getTime() ||
        (sibling.createdAt.getTime() === first.createdAt.getTime() &&
          sibling.deviceId < first.deviceId);
      if (earlier) first = sibling;
    }
    return first.deviceId;
  }

  /**
   * Blocks a device on the trust engine's decision, recorded with actor `system:trust`, unless
   * it is blocked already (by another request, on this replica or another, deciding the same):
   * true when this call blocked it.
   */
  async blockAutomatically(deviceId: string, reason: string): Promise<boolean> {
    const blocked = await this.devices.blockIfUnblocked(deviceId, {
      id: newId(),
      deviceId,
      action: 'blocked',
      actor: 'system:trust',
      reason: reason.slice(0, 500),
      at: this.clock.now(),
    });
    if (blocked === undefined) throw notFound();
    return blocked;
  }

  /**
   * When an admin last unblocked the device (undefined if never): the latest `unblocked` event
   * the server vouches for and dated at most `now`. One whose tag does not verify (inserted or
   * edited in the database) or dated later (a future-dated unblock would otherwise hold off the
   * automatic block for good) is no unblock: passed over, and logged as tampered, once per
   * device and event in a process (each sync of a device under the floor reads it again).
   */
  async lastUnblockedAt(deviceId: string, now = this.clock.now()): Promise<Date | undefined> {
    const { at, ignored } = await this.devices.lastEventAt(deviceId, 'unblocked', now);
    for (const event of ignored) {
      // once per device and event per process: every sync of a device under the floor reads it
      const key = `${deviceId}\u0000${event.id}`;
      if (this.ignoredUnblocksLogged.has(key)) continue;
      if (this.ignoredUnblocksLogged.size >= IGNORED_UNBLOCKS_REMEMBERED) {
        this.ignoredUnblocksLogged.delete(this.ignoredUnblocksLogged.values().next().value!);
      }
      this.ignoredUnblocksLogged.add(key);
      this.logger.warn(
        {
          deviceId,
          eventId: event.id,
          at: Number.isNaN(event.at.getTime()) ? 'invalid' : event.at.toISOString(),
          integrity: event.integrity === 'tampered' ? 'tampered' : 'future',
        },
        'Worker device unblock ignored (tampered: its tag does not verify, or dated after now)',
      );
    }
    return at;
  }

  /**
   * `keys:retag`: a page of devices (after `afterDeviceId`, deviceId order) with their block
   * state and events tagged again under the current store-MAC key (WorkerDeviceRepository).
   */
  retagPage(
    afterDeviceId: string,
    limit: number,
    except?: readonly string[],
  ): Promise<WorkerDeviceRetagOutcome[]> {
    return this.devices.retagPage(afterDeviceId, limit, except);
  }

  /** Devices in deviceId order; with `workerId`, that worker's phones only. */
  list(limit: number, afterDeviceId?: string, workerId?: string): Promise<WorkerDevice[]> {
    return this.devices.list({ limit, afterDeviceId, workerId });
  }

  async detail(deviceId: string): Promise<{ device: WorkerDevice; events: WorkerDeviceEvent[] }> {
    const device = await this.devices.findByDeviceId(deviceId);
    if (!device) throw notFound();
    return { device, events: await this.devices.listEvents(deviceId) };
  }

  async setBlocked(
    deviceId: string,
    blocked: boolean,
    reason: string,
    principal: Principal,
  ): Promise<WorkerDevice> {
    const updated = await this.devices.setBlocked(deviceId, blocked, {
      id: newId(),
      deviceId,
      action: blocked ? 'blocked' : 'unblocked',
      actor: actorOf(principal),
      reason,
      at: this.clock.now(),
    });
    if (!updated) throw notFound();
    this.logger.log({ deviceId, blocked }, 'Worker device status changed');
    return updated;
  }
}

function notFound(): DeviceTrustError {
  return new DeviceTrustError('device_not_found', 'No worker device has this deviceId');
}
