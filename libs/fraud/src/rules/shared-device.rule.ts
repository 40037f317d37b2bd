import { Inject, Injectable } from '@nestjs/common';
import { FraudFinding, PacketObservation, PacketRule, RuleContext } from '../domain/packet-rule';
import { fraudConfig, FraudSettings } from '../fraud.config';

/**
 * One device shared by many workers: more than FRAUD_SHARED_DEVICE_MAX_WORKERS distinct
 * workers recorded attendance from the device (the history says what one device is: the
 * same physical phone) within FRAUD_SHARED_DEVICE_WINDOW_HOURS before the newest packet.
 * One finding per device per screened batch, and only against newcomers: the phone's first
 * registration is never flagged for the devices that came after it (anyone can claim a SIM
 * hash, so others colliding with an established phone must not lower its owner's trust).
 */
@Injectable()
export class SharedDeviceRule extends PacketRule {
  readonly name = 'shared_device';
  private readonly maxWorkers: number;
  private readonly windowMs: number;

  constructor(@Inject(fraudConfig.KEY) fraud: FraudSettings) {
    super();
    this.maxWorkers = fraud.sharedDeviceMaxWorkers;
    this.windowMs = fraud.sharedDeviceWindowSeconds * 1000;
  }

  async evaluate(packets: PacketObservation[], ctx: RuleContext): Promise<FraudFinding[]> {
    const newest = new Map<string, PacketObservation>();
    for (const p of packets) {
      const seen = newest.get(p.deviceId);
      if (!seen || p.timestamp > seen.timestamp) newest.set(p.deviceId, p);
    }
    const findings: FraudFinding[] = [];
    for (const p of newest.values()) {
      const from = new Date(p.timestamp.getTime() - this.windowMs);
      const workers = await ctx.history.workersOnDevice(p.deviceId, from, p.timestamp);
      if (workers.length <= this.maxWorkers) continue;
      const established = await ctx.history.establishedDeviceOf(p.deviceId);
      if (established === p.deviceId) continue;
      findings.push({
        type: 'shared_device',
        deviceId: p.deviceId,
        workerId: p.workerId,
        siteId: p.siteId,
        packetId: p.packetId,
        detail: `${workers.length} distinct workers on this phone within ${this.windowMs / 3_600_000} h (> ${this.maxWorkers}); this device registered after the phone's first device ${established}`,
      });
    }
    return findings;
  }
}
