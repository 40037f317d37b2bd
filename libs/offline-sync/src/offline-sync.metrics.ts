import { Injectable, Optional } from '@nestjs/common';
import { Counter, MetricsRegistry } from '@app/common';

export type PacketOutcome = 'accepted' | 'duplicate' | 'rejected';

/**
 * `mdai_sync_packets_total{outcome}`: the packets of `POST /api/v5/sync` by what this instance
 * decided for each, accepted (a new ledger link), duplicate (already in the ledger, same
 * content) or rejected (each rejection is also a fraud event, `mdai_fraud_events_total` by
 * reason). A batch refused before its packets are judged (token, device, size) counts none.
 * Every outcome starts at 0. Without a metrics registry it counts nothing.
 */
@Injectable()
export class SyncMetrics {
  private readonly packets?: Counter<'outcome'>;

  constructor(@Optional() registry?: MetricsRegistry) {
    if (!registry) return;
    this.packets = new Counter({
      name: 'mdai_sync_packets_total',
      help: 'Synced attendance packets by outcome (accepted, duplicate, rejected)',
      labelNames: ['outcome'],
      registers: [registry],
    });
    for (const outcome of ['accepted', 'duplicate', 'rejected'] as const) {
      this.packets.inc({ outcome }, 0);
    }
  }

  counted(outcome: PacketOutcome, count: number): void {
    if (count > 0) this.packets?.inc({ outcome }, count);
  }
}
