import { Inject, Injectable } from '@nestjs/common';
import {
  FraudFinding,
  isPending,
  PacketObservation,
  PacketRule,
  RuleContext,
} from '../domain/packet-rule';
import { fraudConfig, FraudSettings } from '../fraud.config';

/**
 * Rapid repeat: the worker's previous packet has the same type (check_in after check_in)
 * and is less than FRAUD_RAPID_REPEAT_SECONDS older.
 */
@Injectable()
export class RapidRepeatRule extends PacketRule {
  readonly name = 'rapid_repeat';
  private readonly seconds: number;

  constructor(@Inject(fraudConfig.KEY) fraudSettings: FraudSettings) {
    super();
    this.seconds = fraudSettings.rapidRepeatSeconds;
  }

  async evaluate(packets: PacketObservation[], ctx: RuleContext): Promise<FraudFinding[]> {
    const findings: FraudFinding[] = [];
    for (const p of packets) {
      const asked = ctx.history.previousOf(p);
      // in hand for a screened packet: awaited only when it is a lookup still to make
      const prev = isPending(asked) ? await asked : asked;
      if (!prev || prev.type !== p.type) continue;
      const gap = (p.timestamp.getTime() - prev.timestamp.getTime()) / 1000;
      if (gap >= this.seconds) continue;
      findings.push({
        type: 'rapid_repeat',
        deviceId: p.deviceId,
        workerId: p.workerId,
        siteId: p.siteId,
        packetId: p.packetId,
        detail: `${p.type} ${gap} s after ${p.type} ${prev.packetId} (< ${this.seconds} s)`,
      });
    }
    return findings;
  }
}
