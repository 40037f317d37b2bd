import type { Server } from 'node:http';
import {
  BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  OnApplicationShutdown,
  OnModuleDestroy,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { appConfig, AppSettings } from '@app/common';
import { RelayHub } from '@app/relay';

/**
 * Bounds a graceful shutdown (SIGTERM, `app.close()`): the listener stops taking connections
 * and the requests in flight get SHUTDOWN_GRACE_MS (10 s) to finish; then every HTTP connection
 * still open is cut, so a client that stopped sending in the middle of a request (a stalled
 * upload) cannot hold the process, and the store behind it, open. Relay sockets are closed by
 * the relay hub itself.
 *
 * It logs one line (info) when the drain starts, with the connections open then, and one when
 * it ends, with how long it took and how many connections were still open at the grace deadline.
 */
@Injectable()
export class ShutdownGrace
  implements OnModuleDestroy, BeforeApplicationShutdown, OnApplicationShutdown
{
  private readonly log = new Logger('Shutdown');
  private timer?: NodeJS.Timeout;
  /** When the drain started (undefined: no listener, e.g. a script's app context). */
  private startedAt?: bigint;
  private cut = 0;

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    @Inject(appConfig.KEY) private readonly app: AppSettings,
    private readonly relay: RelayHub,
  ) {}

  /**
   * The first hook of a close, run before any module's beforeApplicationShutdown (where the
   * relay hub closes its sockets): the counts are those the drain starts with.
   */
  async onModuleDestroy(): Promise<void> {
    const server = this.server();
    if (!server?.listening) return;
    this.startedAt = process.hrtime.bigint();
    const open = await connections(server);
    this.log.log(
      `shutdown: draining ${open} open connection(s) (HTTP and WebSocket; ` +
        `${this.relay.connectionCount} relay socket(s)), grace ${this.app.shutdownGraceMs} ms`,
    );
  }

  beforeApplicationShutdown(): void {
    const server = this.server();
    if (!server?.listening) return;
    this.timer = setTimeout(() => {
      void connections(server).then((open) => {
        this.cut = open;
        server.closeAllConnections();
      });
    }, this.app.shutdownGraceMs);
    this.timer.unref();
  }

  onApplicationShutdown(signal?: string): void {
    clearTimeout(this.timer);
    if (this.startedAt === undefined) return;
    const ms = Number((process.hrtime.bigint() - this.startedAt) / 1_000_000n);
    this.log.log(
      `shutdown${signal ? ` (${signal})` : ''}: drained in ${ms} ms; ` +
        `${this.cut} connection(s) still open at the grace deadline (HTTP ones cut)`,
    );
  }

  private server(): Server | undefined {
    return this.adapterHost.httpAdapter?.getHttpServer() as Server | undefined;
  }
}

/** The connections the server holds now (HTTP, and WebSockets upgraded from it). */
function connections(server: Server): Promise<number> {
  return new Promise((resolve) =>
    server.getConnections((error, count) => resolve(error ? 0 : count)),
  );
}
