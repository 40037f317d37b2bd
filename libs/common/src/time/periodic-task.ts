import { Logger } from '@nestjs/common';

export interface PeriodicTaskOptions {
  /** Said in the log line when a run fails: `<name> failed`. */
  name: string;
  everyMs: number;
  run: () => Promise<unknown>;
  logger: Pick<Logger, 'error'>;
}

/**
 * A job that runs every `everyMs` in the background (expired-row sweeps, retention purges).
 * The owner calls `start()` from its init hook and `stop()` from its shutdown hook. The timer
 * is unref'ed (it never keeps the process alive), runs never overlap, and a failed run is
 * logged, never thrown: the next tick tries again.
 */
export class PeriodicTask {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;

  constructor(private readonly options: PeriodicTaskOptions) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.runNow(), this.options.everyMs);
    this.timer.unref();
  }

  /** Stops the timer and waits for a run in progress. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One run now (joins the run in progress, if any). Never rejects. */
  runNow(): Promise<void> {
    this.running ??= Promise.resolve()
      .then(this.options.run)
      .then(
        () => undefined,
        (err: unknown) => this.options.logger.error({ err }, `${this.options.name} failed`),
      )
      .finally(() => {
        this.running = undefined;
      });
    return this.running;
  }
}
