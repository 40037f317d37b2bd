import { Logger } from '@nestjs/common';
import type { MetricsRegistry } from '../http/metrics';
import { Counter } from '../http/prometheus';

/**
 * A signing key this server still signs with although its own key history retires it (the
 * history was updated, the private key not: a replica restarted with half of a rotation's new
 * values). What it signs after the key's window does not verify, so each signature past it is
 * counted, logged as an error at most once a minute, and told to /health (`problemAt`).
 */
export class RetiredKeyWatch {
  private readonly logger: Logger;
  private readonly pastWindow: Counter;
  private lastLog = 0;

  constructor(
    /** The end of the active key's window in its own history; undefined: not retired. */
    readonly notAfter: Date | undefined,
    private readonly names: {
      /** The private key's variable, e.g. TLOG_SIGNING_KEY. */
      key: string;
      /** The history's variable, e.g. TLOG_RETIRED_KEYS. */
      history: string;
      /** What it signs, e.g. "checkpoints". */
      signs: string;
      metric: string;
      context: string;
    },
    metrics?: MetricsRegistry,
  ) {
    this.logger = new Logger(names.context);
    this.pastWindow = new Counter({
      name: names.metric,
      help: `${names.signs} signed with a ${names.key} that ${names.history} says was retired before (they do not verify: restart with the new key)`,
      registers: metrics ? [metrics] : [],
    });
  }

  /** Whether the key may sign verifiably at `at` (false past its window). */
  validAt(at: Date): boolean {
    return !this.notAfter || at <= this.notAfter;
  }

  /** Called on each signature made at `at`: loud when the key's window has ended. */
  signing(at: Date): void {
    if (this.validAt(at)) return;
    this.pastWindow.inc();
    // an error a minute at most: the metric counts every signature
    if (at.getTime() - this.lastLog < 60_000) return;
    this.lastLog = at.getTime();
    this.logger.error(
      { notAfter: this.notAfter!.toISOString() },
      `Signing ${this.names.signs} with a retired ${this.names.key} past its window: they will not verify; restart with the new key`,
    );
  }

  /** Why this server's key does not sign verifiably at `at`, if it does not (for /health). */
  problemAt(at: Date): string | undefined {
    if (this.validAt(at)) return undefined;
    return `${this.names.key} is retired in ${this.names.history} (window ended ${this.notAfter!.toISOString()}): ${this.names.signs} signed now do not verify; restart with the new key`;
  }
}
