import { Inject, Injectable, Logger } from '@nestjs/common';
import { newId } from '@app/common';
import { FraudEvent, FraudEventCriteria } from './domain/fraud-event';
import { FraudFinding, PACKET_RULES, PacketObservation, PacketRule } from './domain/packet-rule';
import { FraudEventRepository } from './infrastructure/persistence/fraud-event.repository';

export type FraudEventInput = Omit<FraudEvent, 'id' | 'at'> & { at?: Date };

/** Records fraud events and runs the pattern rules over accepted packets. */
@Injectable()
export class FraudService {
  private readonly logger = new Logger(FraudService.name);

  constructor(
    private readonly events: FraudEventRepository,
    @Inject(PACKET_RULES) private readonly rules: PacketRule[],
  ) {}

  async record(input: FraudEventInput): Promise<FraudEvent> {
    const [event] = await this.recordAll([input]);
    return event;
  }

  async recordAll(inputs: FraudEventInput[]): Promise<FraudEvent[]> {
    if (inputs.length === 0) return [];
    const now = new Date();
    const events = inputs.map((input) => ({ ...input, id: newId(), at: input.at ?? now }));
    await this.events.recordAll(events);
    const byType = new Map<string, number>();
    for (const e of events) byType.set(e.type, (byType.get(e.type) ?? 0) + 1);
    this.logger.warn(
      { fraud: Object.fromEntries(byType), deviceId: events[0].deviceId },
      'Fraud events recorded',
    );
    return events;
  }

  /** Runs every pattern rule over packets that were accepted; records and returns the findings. */
  async screen(packets: PacketObservation[]): Promise<FraudEvent[]> {
    if (packets.length === 0 || this.rules.length === 0) return [];
    const findings: FraudFinding[] = [];
    for (const rule of this.rules) findings.push(...(await rule.evaluate(packets)));
    return this.recordAll(findings);
  }

  list(criteria: FraudEventCriteria): Promise<FraudEvent[]> {
    return this.events.listRecent(criteria);
  }
}
