import {
  BeforeApplicationShutdown,
  Injectable,
  Logger,
  OnApplicationBootstrap,
} from '@nestjs/common';
import { TlogRepository } from './infrastructure/persistence/tlog.repository';
import { TransparencyLogService } from './transparency-log.service';

/**
 * At start-up, whether each log's stored Merkle nodes are there (findings L3: deleted by hand,
 * they failed every append and proof of the log while /health said 200) and give the root its
 * last checkpoint signs (review LV #3: rewritten by hand, a seal signed over them). A log whose
 * nodes do not is rebuilt from its entries when its owner registered how to read them and they
 * give that root; otherwise it is listed on /health (`tlog`, `nodes_missing` or
 * `nodes_mismatch`) until a seal or a proof rebuilds it, or a seal or /health finds it put back. In the
 * background: a rebuild reads the whole log, and the server answers meanwhile (the log's
 * requests wait for the rebuild).
 */
@Injectable()
export class TreeNodesCheck implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(TreeNodesCheck.name);
  private done: Promise<void> = Promise.resolve();
  private closing = false;

  constructor(
    private readonly store: TlogRepository,
    private readonly tlog: TransparencyLogService,
  ) {}

  onApplicationBootstrap(): void {
    this.done = this.check().catch((error: unknown) =>
      this.logger.error({ err: error }, 'The stored Merkle nodes of the logs could not be checked'),
    );
  }

  /**
   * The app closes (a shutdown, a one-off job that booted it): no further log is checked, and
   * the store stays open until the one being checked is done.
   */
  async beforeApplicationShutdown(): Promise<void> {
    this.closing = true;
    await this.done;
  }

  /** Settles when the start-up check is over. */
  settled(): Promise<void> {
    return this.done;
  }

  private async check(): Promise<void> {
    for (const origin of await this.store.origins()) {
      if (this.closing) return;
      await this.tlog.checkNodes(origin);
    }
  }
}
