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
import { appConfig, AppSettings, ShutdownDeadline } from '@app/common';
import { RelayHub } from '@app/relay';

/** How long past SHUTDOWN_GRACE_MS a signal's shutdown may take before the process exits anyway. */
export const SHUTDOWN_EXIT_MARGIN_MS = 5_000;

/**
 * Bounds a graceful shutdown (SIGTERM, `app.close()`). It runs the first hook of the close
 * (the app module's `onModuleDestroy`, before any other module's hook), and there:
 * - closes the listener: a new connection is refused from the first moment (a proxy sends it
 *   to another replica, a replacement can bind the port), where Nest closes it only after every
 *   module's shutdown hooks (a tester saw the port listening and 60 requests served 101 s after
 *   SIGTERM, with the projection's queue growing from the syncs it took meanwhile);
 * - closes the relay's sockets (a socket accepted from an upgrade still under way is closed);
 * - starts the `ShutdownDeadline`, SHUTDOWN_GRACE_MS (10 s) from then: every HTTP connection
 *   still open then is cut, so a client that stopped sending in the middle of a request (a
 *   stalled upload) cannot hold the process, and the store behind it, open; hooks that wait for
 *   background work wait within it;
 * - waits for the requests in flight (within the deadline), so the modules' hooks after it (the
 *   projection's, the stores' closes) run with no request left to use them.
 * A close started by a signal that is still running SHUTDOWN_EXIT_MARGIN_MS past the grace
 * ends the process (exit code 1, logged): nothing keeps it past grace + margin. For SIGTERM and
 * SIGINT (`armOnSignals`, called where the shutdown hooks are enabled) that timer is armed the
 * moment the signal arrives once the app has bootstrapped, so a step that hangs before the drain
 * (in any module's `onModuleDestroy`, this drain's included) cannot keep the process alive;
 * another signal arms it when the close reaches `beforeApplicationShutdown`.
 *
 * A SIGTERM or SIGINT during the start-up (the app's init: migrations, legacy tagging, the
 * start-up recompute, in the modules' `onModuleInit` and `onApplicationBootstrap`) lets the
 * start-up finish: Nest's signal handler does not wait for a NestApplication's init (only an
 * application context's), and would close the stores under it and end the process mid-step (a
 * legacy tagging cut between its rows and its marker makes the next start refuse). So the drain,
 * the close's first hook, first waits for the app to bootstrap and listen; the exit timer is
 * armed when the drain starts (the start-up's length is not bounded by it), and another signal
 * meanwhile does nothing more (SIGKILL still ends the process).
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
  private exitTimer?: NodeJS.Timeout;
  /** When the drain started (undefined: no listener, e.g. a script's app context). */
  private startedAt?: bigint;
  private cut = 0;
  private draining = false;
  /** The responses not yet finished (told to close their connection when the drain starts). */
  private readonly inFlight = new Set<ServerResponse>();
  /** Told when the last response in flight has finished. */
  private idle?: () => void;
  /** The signals `armOnSignals` listens to (removed once the close is done). */
  private watched: NodeJS.Signals[] = [];
  /** Whether `onApplicationBootstrap` ran (the start-up is over). */
  private bootstrapped = false;
  private resolveBootstrapped!: () => void;
  private readonly bootstrap = new Promise<void>((resolve) => (this.resolveBootstrapped = resolve));
  /** A watched signal that arrived before the app bootstrapped (the close waits for it). */
  private signalledInStartUp?: NodeJS.Signals;
  private readonly onSignal = (signal: NodeJS.Signals): void => {
    if (this.bootstrapped) {
      this.armExit(signal, this.app.shutdownGraceMs + SHUTDOWN_EXIT_MARGIN_MS, 'the signal');
    } else if (this.signalledInStartUp === undefined) {
      this.signalledInStartUp = signal;
      this.log.log(
        `shutdown (${signal}) during the start-up: the start-up finishes first, then the close`,
      );
    }
  };

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    @Inject(appConfig.KEY) private readonly app: AppSettings,
    private readonly relay: RelayHub,
    private readonly deadline: ShutdownDeadline,
  ) {}

  /** Watches the responses: before any other listener, so each one is seen before it is sent. */
  onApplicationBootstrap(): void {
    this.server()?.prependListener('request', (_request, response: ServerResponse) => {
      if (this.draining) closeAfter(response);
      this.inFlight.add(response);
      response.once('close', () => {
        this.inFlight.delete(response);
        if (this.inFlight.size === 0) this.idle?.();
      });
    });
    this.bootstrapped = true;
    this.resolveBootstrapped();
  }

  /** The drain (see the class): the first hook of a close. */
  async onModuleDestroy(): Promise<void> {
    if (this.signalledInStartUp !== undefined) await this.startUpDone();
    const server = this.server();
    if (!server?.listening) return;
    this.startedAt = process.hrtime.bigint();
    this.draining = true;
    // no new connection from now on (Nest's own close of the server comes after every hook)
    server.close();
    for (const response of this.inFlight) closeAfter(response);
    const open = await connections(server);
    // counted first: the line says what the drain started with
    server.closeIdleConnections();
    this.log.log(
      `shutdown: draining ${open} open connection(s) (HTTP and WebSocket; ` +
        `${this.relay.connectionCount} relay socket(s)), grace ${this.app.shutdownGraceMs} ms`,
    );
    this.deadline.start(this.app.shutdownGraceMs);
    const requestsEnded = new Promise<void>((resolve) => {
      this.idle = resolve;
      if (this.inFlight.size === 0) resolve();
    });
    const drained = await this.deadline.within(Promise.all([requestsEnded, this.relay.closeAll()]));
    // the grace is over: what is still open is counted, and its HTTP connections cut
    if (!drained) this.cut = await connections(server);
    // (drained: what is left has no request in flight, a connection whose request's head was
    // still coming in when the drain started: cut, so no request reaches a route after the
    // hooks go on)
    server.closeAllConnections();
  }

  /**
   * A signal's close started during the start-up: waits for the app to bootstrap, then for its
   * listener (`listen` binds it right after the init; a bind that fails ends the process), so
   * the drain closes a listening server.
   */
  private async startUpDone(): Promise<void> {
    await this.bootstrap;
    const server = this.server();
    if (!server || server.listening) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        server.off('listening', done).off('error', done);
        resolve();
      };
      server.once('listening', done).once('error', done);
    });
  }

  /**
   * From now on a SIGTERM or SIGINT arms the exit timer the moment it arrives, once the app has
   * bootstrapped (next to Nest's own listener, which starts the close): the process ends
   * SHUTDOWN_EXIT_MARGIN_MS past the grace from then, whatever step of the close hangs. One
   * during the start-up lets it finish (see the class).
   */
  armOnSignals(signals: NodeJS.Signals[] = ['SIGTERM', 'SIGINT']): void {
    for (const signal of signals) process.on(signal, this.onSignal);
    this.watched.push(...signals);
  }

  /**
   * A signal's close: the process ends SHUTDOWN_EXIT_MARGIN_MS past the grace, whatever holds it
   * (armed at the signal already for those `armOnSignals` watches once bootstrapped; from the
   * drain's start else).
   */
  beforeApplicationShutdown(signal?: string): void {
    if (this.startedAt === undefined || signal === undefined) return;
    const elapsed = Number((process.hrtime.bigint() - this.startedAt) / 1_000_000n);
    const left = Math.max(0, this.app.shutdownGraceMs + SHUTDOWN_EXIT_MARGIN_MS - elapsed);
    this.armExit(signal, left, 'the drain started');
  }

  /** Once: the process exits (code 1, logged) in `ms` unless the close ends first. */
  private armExit(signal: string, ms: number, since: string): void {
    if (this.exitTimer) return;
    this.exitTimer = setTimeout(() => {
      this.log.error(
        `shutdown (${signal}): still closing ${this.app.shutdownGraceMs + SHUTDOWN_EXIT_MARGIN_MS} ms ` +
          `after ${since} (grace and margin): exiting`,
      );
      process.exit(1);
    }, ms);
    this.exitTimer.unref();
  }

  onApplicationShutdown(signal?: string): void {
    clearTimeout(this.exitTimer);
    // Nest re-sends the signal once the close is done: no listener of ours may keep it from ending
    for (const watched of this.watched) process.off(watched, this.onSignal);
    this.watched = [];
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
