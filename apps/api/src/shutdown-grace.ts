import type { Server } from 'node:http';
import {
  BeforeApplicationShutdown,
  Inject,
  Injectable,
  OnApplicationShutdown,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { appConfig, AppSettings } from '@app/common';

/**
 * Bounds a graceful shutdown (SIGTERM, `app.close()`): the listener stops taking connections
 * and the requests in flight get SHUTDOWN_GRACE_MS (10 s) to finish; then every HTTP connection
 * still open is cut, so a client that stopped sending in the middle of a request (a stalled
 * upload) cannot hold the process, and the store behind it, open. Relay sockets are closed by
 * the relay hub itself.
 */
@Injectable()
export class ShutdownGrace implements BeforeApplicationShutdown, OnApplicationShutdown {
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    @Inject(appConfig.KEY) private readonly app: AppSettings,
  ) {}

  beforeApplicationShutdown(): void {
    const server = this.adapterHost.httpAdapter?.getHttpServer() as Server | undefined;
    if (!server?.listening) return; // a script's app context: no listener
    this.timer = setTimeout(() => server.closeAllConnections(), this.app.shutdownGraceMs);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearTimeout(this.timer);
  }
}
