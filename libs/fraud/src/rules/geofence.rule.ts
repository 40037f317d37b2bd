import { Inject, Injectable } from '@nestjs/common';
import { distanceM } from '../domain/geo';
import { FraudFinding, PacketObservation, PacketRule, RuleContext } from '../domain/packet-rule';
import { fraudConfig, FraudSettings } from '../fraud.config';

/**
 * Outside the site geofence: distance to the site centre minus the packet's GPS accuracy is
 * more than the site's radiusM (plus FRAUD_GEOFENCE_SLACK_M).
 */
@Injectable()
export class GeofenceRule extends PacketRule {
  readonly name = 'outside_geofence';
  private readonly slackM: number;

  constructor(@Inject(fraudConfig.KEY) fraudSettings: FraudSettings) {
    super();
    this.slackM = fraudSettings.geofenceSlackM;
  }

  async evaluate(packets: PacketObservation[], ctx: RuleContext): Promise<FraudFinding[]> {
    const findings: FraudFinding[] = [];
    for (const p of packets) {
      const site = ctx.sites.get(p.siteId);
      if (!site) continue;
      const metres = distanceM(site.geo, p.geo) - p.geo.accuracyM;
      const allowed = site.radiusM + this.slackM;
      if (metres <= allowed) continue;
      findings.push({
        type: 'outside_geofence',
        deviceId: p.deviceId,
        workerId: p.workerId,
        siteId: p.siteId,
        packetId: p.packetId,
        detail: `${Math.round(metres)} m from the site centre beyond GPS accuracy > ${allowed} m allowed`,
      });
    }
    return findings;
  }
}
