import { INestApplicationContext, Logger } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import type { EventEmitter } from 'node:events';
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';

/**
 * Asked before each WebSocket upgrade: undefined lets it go on, a number refuses it with 429
 * and that many seconds in `Retry-After` (the HTTP per-IP limit, UpgradeThrottle).
 */
export type UpgradeGate = (request: IncomingMessage) => Promise<number | undefined>;

type VerifyDone = (
  ok: boolean,
  code?: number,
  message?: string,
  headers?: OutgoingHttpHeaders,
) => void;

/**
 * The platform-ws adapter, minus its message dispatch: the relay reads raw frames itself so
 * that invalid JSON and unknown types get an `error` frame instead of being dropped silently
 * (and each frame is parsed once, not twice). Upgrades pass `upgradeGate` first. A client's
 * WebSocket protocol error (an invalid UTF-8 frame, a bad opcode) is logged as one warning
 * line, without its stack or payload; any other socket or server error stays an error.
 */
export class RelayWsAdapter extends WsAdapter {
  private readonly relayLogger = new Logger('RelaySockets');

  constructor(
    app?: INestApplicationContext | object,
    private readonly upgradeGate?: UpgradeGate,
  ) {
    super(app);
  }

  override create(port: number, options: Record<string, unknown> = {}): unknown {
    const gate = this.upgradeGate;
    if (!gate) return super.create(port, options);
    const verifyClient = (info: { req: IncomingMessage }, done: VerifyDone) => {
      gate(info.req).then(
        (wait) => (wait === undefined ? done(true) : tooMany(done, wait)),
        // the counter failed (its storage falls back to this process first): let it in
        () => done(true),
      );
    };
    return super.create(port, { ...options, verifyClient });
  }

  override bindMessageHandlers(): void {
    // frames are handled by RelayHub
  }

  override bindErrorHandler(server: EventEmitter): EventEmitter {
    server.on('connection', (ws: EventEmitter) =>
      ws.on('error', (error: Error) => this.socketError(error)),
    );
    server.on('error', (error: Error) =>
      this.relayLogger.error({ err: error }, 'WebSocket server error'),
    );
    return server;
  }

  private socketError(error: Error & { code?: unknown }): void {
    if (typeof error.code === 'string' && error.code.startsWith('WS_ERR_')) {
      // what the client sent broke the protocol: `ws` closes the socket (1002, 1007, 1009)
      this.relayLogger.warn(
        { code: error.code },
        `A WebSocket client broke the protocol: ${error.message}`,
      );
      return;
    }
    this.relayLogger.error({ err: error }, 'WebSocket error');
  }
}

function tooMany(done: VerifyDone, seconds: number): void {
  const body = JSON.stringify({
    statusCode: 429,
    code: 'rate_limited',
    message: `Too many requests from this address; retry after ${seconds} s`,
  });
  done(false, 429, body, { 'Content-Type': 'application/json', 'Retry-After': String(seconds) });
}
