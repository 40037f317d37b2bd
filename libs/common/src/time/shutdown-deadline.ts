import { Injectable } from '@nestjs/common';

/**
 * When a graceful shutdown's waiting ends. `ShutdownGrace` starts it when the drain starts
 * (SHUTDOWN_GRACE_MS from then); a shutdown hook that waits for background work (a queue, a
 * watch's run) waits `within` it, so no hook holds the process past the grace, however much
 * work is queued. Before it is started (a script's app context, a unit test) `within` waits for
 * the work itself.
 */
@Injectable()
export class ShutdownDeadline {
  private reached?: Promise<void>;

  /** Starts the deadline `ms` from now (once: a second call changes nothing). */
  start(ms: number): void {
    if (this.reached) return;
    this.reached = new Promise((resolve) => setTimeout(resolve, ms).unref());
  }

  /** Whether `work` settled before the deadline (a rejection counts as settled). */
  async within(work: Promise<unknown>): Promise<boolean> {
    let settled = false;
    const done = work.then(
      () => (settled = true),
      () => (settled = true),
    );
    await (this.reached ? Promise.race([done, this.reached]) : done);
    return settled;
  }
}
