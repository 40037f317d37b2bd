import type { Server, ServerResponse } from 'node:http';
import {
  BeforeApplicationShutdown,
  OnApplicationBootstrap,
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
 * Once the drain starts, a kept-alive connection is not served on: idle ones are closed at once,
 * and every response still to come (of a request in flight, or one arriving meanwhile on an open
 * connection) carries `Connection: close` and its connection is closed after it, so a client
 * reconnects, to the process that replaces this one, rather than being served by the draining
 * one until it exits.
 *
 * It logs one line (info) when the drain starts, with the connections open then, and one when
 * it ends, with how long it took and how many connections were still open at the grace deadline.
 */
@Injectable()
export class ShutdownGrace
  implements
    OnApplicationBootstrap,
    OnModuleDestroy,
    BeforeApplicationShutdown,
    OnApplicationShutdown
{
  private readonly log = new Logger('Shutdown');
  private timer?: NodeJS.Timeout;
  /** When the drain started (undefined: no listener, e.g. a script's app context). */
  private startedAt?: bigint;
  private cut = 0;
  private draining = false;
  /** The responses not yet finished (told to close their connection when the drain starts). */
  private readonly inFlight = new Set<ServerResponse>();

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    @Inject(appConfig.KEY) private readonly app: AppSettings,
    private readonly relay: RelayHub,
  ) {}

  /** Watches the responses: before any other listener, so each one is seen before it is sent. */
  onApplicationBootstrap(): void {
    this.server()?.prependListener('request', (_request, response: ServerResponse) => {
      if (this.draining) return closeAfter(response);
      this.inFlight.add(response);
      response.once('close', () => this.inFlight.delete(response));
    });
  }

  /**
   * The first hook of a close, run before any module's beforeApplicationShutdown (where the
   * relay hub closes its sockets): the counts are those the drain starts with.
   */
  async onModuleDestroy(): Promise<void> {
    const server = this.server();
    if (!server?.listening) return;
    this.startedAt = process.hrtime.bigint();
    this.draining = true;
    for (const response of this.inFlight) closeAfter(response);
    this.inFlight.clear();
    const open = await connections(server);
    // counted first: the line says what the drain started with
    server.closeIdleConnections();
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

/**
 * The connection of `response` is closed once it is sent: `Connection: close` when its head is
 * still to be written (Node then ends the connection after it), else ended after its last byte.
 */
function closeAfter(response: ServerResponse): void {
  if (!response.headersSent) {
    response.setHeader('Connection', 'close');
    return;
  }
  const socket = response.socket;
  response.once('finish', () => socket?.end());
}

/** The connections the server holds now (HTTP, and WebSockets upgraded from it). */
function connections(server: Server): Promise<number> {
  return new Promise((resolve) =>
    server.getConnections((error, count) => resolve(error ? 0 : count)),
  );
}
