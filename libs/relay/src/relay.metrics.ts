import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, MetricsRegistry } from '@app/common';

@Injectable()
export class RelayMetrics {
  readonly connections: Gauge<'role'>;
  readonly relayed: Counter<'to'>;
  readonly errors: Counter<'code'>;
  readonly upstreamLatency: Histogram<'outcome'>;

  constructor(registry: MetricsRegistry) {
    this.connections = new Gauge({
      name: 'mdai_relay_connections',
      help: 'Open relay sockets by role',
      labelNames: ['role'],
      registers: [registry],
    });
    this.relayed = new Counter({
      name: 'mdai_relay_frames_relayed_total',
      help: 'Frames relayed between peers',
      labelNames: ['to'],
      registers: [registry],
    });
    this.errors = new Counter({
      name: 'mdai_relay_errors_total',
      help: 'Error frames sent, by code',
      labelNames: ['code'],
      registers: [registry],
    });
    this.upstreamLatency = new Histogram({
      name: 'mdai_upstream_latency_seconds',
      help: 'Identity API submissions by outcome',
      labelNames: ['outcome'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers: [registry],
    });
  }
}
