import { Inject, Injectable } from '@nestjs/common';
import { distanceM } from '../domain/geo';
import {
  FraudFinding,
  isPending,
  PacketObservation,
  PacketRule,
  RuleContext,
} from '../domain/packet-rule';
import { fraudConfig, FraudSettings } from '../fraud.config';

/**
 * Impossible travel: between a worker's consecutive packets (in signed time), the distance
 * less both GPS accuracy radii (the benefit of the doubt), over the time between them, is
 * faster than FRAUD_MAX_SPEED_KMH. Two packets at the same instant in different places
 * (beyond their accuracy) are infinitely fast.
 */
@Injectable()
export class ImpossibleTravelRule extends PacketRule {
  readonly name = 'impossible_travel';
  private readonly maxSpeedKmh: number;

  constructor(@Inject(fraudConfig.KEY) fraudSettings: FraudSettings) {
    super();
    this.maxSpeedKmh = fraudSettings.maxSpeedKmh;
  }

  async evaluate(packets: PacketObservation[], ctx: RuleContext): Promise<FraudFinding[]> {
    const findings: FraudFinding[] = [];
    for (const p of packets) {
      const asked = ctx.history.previousOf(p);
      // in hand for a screened packet: awaited only when it is a lookup still to make
      const prev = isPending(asked) ? await asked : asked;
      if (!prev) continue;
      const metres = distanceM(prev.geo, p.geo) - prev.geo.accuracyM - p.geo.accuracyM;
      if (metres <= 0) continue;
      const seconds = (p.timestamp.getTime() - prev.timestamp.getTime()) / 1000;
      const kmh = seconds > 0 ? metres / 1000 / (seconds / 3600) : Infinity;
      if (kmh <= this.maxSpeedKmh) continue;
      findings.push({
        type: 'impossible_travel',
        deviceId: p.deviceId,
        workerId: p.workerId,
        siteId: p.siteId,
        packetId: p.packetId,
        detail: `${Math.round(metres)} m beyond GPS accuracy in ${seconds} s since packet ${prev.packetId}: ${
          Number.isFinite(kmh) ? `${kmh.toFixed(1)} km/h` : 'no time at all'
        } > ${this.maxSpeedKmh} km/h`,
      });
    }
    return findings;
  }
}
