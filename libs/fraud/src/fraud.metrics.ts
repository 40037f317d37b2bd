import { Injectable, Optional } from '@nestjs/common';
import { Counter, MetricsRegistry } from '@app/common';
import { FRAUD_EVENT_TYPES, FraudEventType } from './domain/fraud-event';

/**
 * `mdai_fraud_events_total{type}`: fraud events recorded by this instance, counted once they are
 * stored. Every type starts at 0, so a rate over a type nobody has triggered yet reads 0, not
 * nothing. Without a metrics registry (a service spec, a script) it counts nothing.
 */
@Injectable()
export class FraudMetrics {
  private readonly events?: Counter<'type'>;
  private readonly unstored?: Counter<'type'>;
  private readonly tampered?: Counter;

  constructor(@Optional() registry?: MetricsRegistry) {
    if (!registry) return;
    this.events = new Counter({
      name: 'mdai_fraud_events_total',
      help: 'Fraud events recorded, by type (sync rejections, pattern-rule flags, refused onboarding)',
      labelNames: ['type'],
      registers: [registry],
    });
    this.unstored = new Counter({
      name: 'mdai_fraud_events_unstored_total',
      help: "Fraud events over their minute's budget (naming no device: FRAUD_UNATTRIBUTED_PER_MINUTE of the type; naming a device: FRAUD_DEVICE_PER_MINUTE of the device and type): counted, not stored",
      labelNames: ['type'],
      registers: [registry],
    });
    this.tampered = new Counter({
      name: 'mdai_fraud_events_tampered_total',
      help: 'Fraud events found changed outside the server (the row or its review history: their tags do not verify), each counted once per instance',
      registers: [registry],
    });
    this.tampered.inc(0);
    for (const type of FRAUD_EVENT_TYPES) {
      this.events.inc({ type }, 0);
      this.unstored.inc({ type }, 0);
    }
  }

  notStored(type: FraudEventType): void {
    this.unstored?.inc({ type });
  }

  tamperedFound(count: number): void {
    this.tampered?.inc(count);
  }

  recorded(type: FraudEventType, count: number): void {
    this.events?.inc({ type }, count);
  }
}
