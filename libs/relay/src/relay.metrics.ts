import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, MetricsRegistry } from '@app/common';
import { RelayRole } from './protocol/messages';

@Injectable()
export class RelayMetrics {
  readonly connections: Gauge<'role'>;
  readonly relayed: Counter<'to'>;
  readonly errors: Counter<'code'>;
  readonly upstreamLatency: Histogram<'outcome'>;
  readonly phoneOutcomes: Counter<'how'>;
  /** Relayed frames not yet added to `relayed`, by the role they went to (see countRelayed). */
  private readonly unreported: Record<RelayRole, number> = {
    mobile: 0,
    device: 0,
    app: 0,
    hardware: 0,
  };

  constructor(registry: MetricsRegistry) {
    const unreported = this.unreported;
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
      // before each read (a scrape, or get()), the frames counted since the last one are added
      collect() {
        for (const to of Object.keys(unreported) as RelayRole[]) {
          if (unreported[to] === 0) continue;
          this.inc({ to }, unreported[to]);
          unreported[to] = 0;
        }
      },
    });
    this.errors = new Counter({
      name: 'mdai_relay_errors_total',
      help: 'Error frames sent, by code',
      labelNames: ['code'],
      registers: [registry],
    });
    this.phoneOutcomes = new Counter({
      name: 'mdai_relay_phone_outcomes_total',
      help:
        "Submission outcomes a phone read: 'live' (it answered the close after its result), " +
        "'on_return' (kept for it, given when its socket came back)",
      labelNames: ['how'],
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

  /**
   * Counts frames relayed to `to`. Per frame this is one addition: prom-client's `inc` hashes
   * and checks the labels on every call, so the counter is brought up to date when it is read.
   */
  countRelayed(to: RelayRole, frames: number): void {
    this.unreported[to] += frames;
  }
}
