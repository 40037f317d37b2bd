import { INestApplicationContext, Logger } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import type { EventEmitter } from 'node:events';
import {
  createServer,
  IncomingMessage,
  OutgoingHttpHeaders,
  Server,
  STATUS_CODES,
} from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocket, WebSocketServer } from 'ws';
import {
  CODE_BY_STATUS,
  correlationIdOf,
  ErrorBody,
  HOST_MISSING,
  isWebSocketUpgrade,
  lacksHost,
  serveUpgradeAsRequest,
} from '@app/common';

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

/** A socket server of the adapter's registry, with the path platform-ws gave it. */
type PathServer = WebSocketServer & { path: string };

/**
 * The platform-ws adapter, minus its message dispatch: the relay reads raw frames itself so
 * that invalid JSON and unknown types get an `error` frame instead of being dropped silently
 * (and each frame is parsed once, not twice). Upgrades pass `upgradeGate` first. An upgrade to
 * a path no socket is at is answered (404, the JSON error body, as an HTTP request to an
 * unknown route is), where platform-ws destroys the connection without a word (a proxy in
 * front sees a failed upstream: nginx answers 502 and may count the replica as failing). A client's
 * WebSocket protocol error (an invalid UTF-8 frame, a bad opcode) is logged as one warning
 * line, without its stack or payload; any other socket or server error stays an error.
 *
 * An upgrade to another protocol than WebSocket (`h2c`, say) at a path no socket is at is served
 * as the HTTP request it also is (`serveUpgradeAsRequest`): Node emits `upgrade` for any
 * `Upgrade` once this listener exists, and it was answered 404 on every route. What `ws` itself
 * would answer in text (503 to an upgrade that completes while the sockets close at shutdown,
 * 400 for a path its `shouldHandle` refuses) is answered here with the JSON error body too.
 */
export class RelayWsAdapter extends WsAdapter {
  private readonly relayLogger = new Logger('RelaySockets');
  /** The sockets are closing (the app's close): an upgrade still under way is refused, 503. */
  private closing = false;

  constructor(
    app?: INestApplicationContext | object,
    private readonly upgradeGate?: UpgradeGate,
  ) {
    super(app);
  }

  override create(port: number, options: Record<string, unknown> = {}): unknown {
    const gate = this.upgradeGate;
    if (!gate) return super.create(port, options);
    // `done(true)` completes the handshake at once: the sockets may have started closing while
    // the gate was asked, which `ws` would answer with its text 503
    const letIn = (request: IncomingMessage, done: VerifyDone): void =>
      this.closing ? refuseVerified(done, request, 503, SHUTTING_DOWN) : done(true);
    const verifyClient = (info: { req: IncomingMessage }, done: VerifyDone) => {
      gate(info.req).then(
        (wait) =>
          wait === undefined
            ? letIn(info.req, done)
            : refuseVerified(done, info.req, 429, retryMessage(wait), {
                'Retry-After': String(wait),
              }),
        // the counter failed (its storage falls back to this process first): let it in
        () => letIn(info.req, done),
      );
    };
    return super.create(port, { ...options, verifyClient });
  }

  /** Nest's close of a socket server (the app's close): upgrades from now on are refused. */
  override close(server: WebSocketServer): Promise<void> {
    this.closing = true;
    return super.close(server);
  }

  /**
   * platform-ws's own, with the upgrade listener below in place of its: the same routing (the
   * request's path, exactly, to the socket server of that path), and an answer where it would
   * destroy the connection.
   */
  protected override ensureHttpServerExists(
    port: number,
    httpServer: Server = createServer(),
  ): Server | undefined {
    if (this.httpServersRegistry.has(port)) return undefined;
    this.httpServersRegistry.set(port, httpServer);
    httpServer.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) =>
      this.routeUpgrade(httpServer, port, request, socket, head),
    );
    return httpServer;
  }

  private routeUpgrade(
    httpServer: Server,
    port: number,
    request: IncomingMessage,
    socket: Duplex,
    head: Buffer,
  ): void {
    let pathname: string | undefined;
    try {
      // as platform-ws reads it (the Host header aside: a fixed base, which cannot be malformed)
      pathname = new URL(request.url ?? '/', 'ws://localhost/').pathname;
    } catch {
      pathname = undefined;
    }
    const servers = (this.wsServersRegistry.get(port) ?? []) as PathServer[];
    const server = servers.find((s) => s.path === pathname);
    if (!server && !isWebSocketUpgrade(request)) {
      // an Upgrade this server does not take, off the socket paths (an h2c probe on /health):
      // ignored (RFC 9110 §7.8), the request served as HTTP, by the app's routes, as it would
      // be without it. One on a socket path stays a WebSocket handshake `ws` refuses (400).
      serveUpgradeAsRequest(httpServer, request, socket, head);
      return;
    }
    if (lacksHost(request)) {
      // an HTTP/1.1 request without Host, refused as an HTTP request is (`hostRequired`: 400
      // malformed_request), before the handshake, the gate or the path
      refuseUpgrade(
        request,
        socket,
        HOST_MISSING.status,
        HOST_MISSING.message,
        {},
        HOST_MISSING.code,
      );
      return;
    }
    if (pathname === undefined) {
      refuseUpgrade(request, socket, 400, 'The request target is not a valid URL');
      return;
    }
    if (this.closing) {
      // the sockets are closing (the app's close): `ws` would answer its text 503
      refuseUpgrade(request, socket, 503, SHUTTING_DOWN);
      return;
    }
    if (server && !server.shouldHandle(request)) {
      // `ws` would answer its bare text 400 (its own path check: platform-ws gives it none, so it
      // takes every request today)
      refuseUpgrade(request, socket, 400, `The request target is not the socket's path`);
      return;
    }
    if (!server) {
      // Node hands the socket over without its error listener: a reset while the gate is asked
      // must not be an uncaught error
      socket.on('error', () => socket.destroy());
      // the path only: a query may hold a token
      const notFound = `Cannot ${request.method ?? 'GET'} ${pathname}`;
      // it counts toward the per-IP limit as any upgrade (and an HTTP 404) does
      const gate = this.upgradeGate ?? (() => Promise.resolve(undefined));
      gate(request).then(
        (wait) =>
          wait === undefined
            ? refuseUpgrade(request, socket, 404, notFound)
            : refuseUpgrade(request, socket, 429, retryMessage(wait), {
                'Retry-After': String(wait),
              }),
        () => refuseUpgrade(request, socket, 404, notFound),
      );
      return;
    }
    server.handleUpgrade(request, socket, head, (ws: WebSocket) =>
      server.emit('connection', ws, request),
    );
  }

  override bindMessageHandlers(): void {
    // frames are handled by RelayHub
  }

  override bindErrorHandler(server: EventEmitter): EventEmitter {
    // a handshake `ws` refuses (no or a bad Sec-WebSocket-Key or -Version, a method other than
    // GET, an Upgrade other than websocket, a Sec-WebSocket-Protocol it cannot
    // parse): with a listener, `ws` hands it here instead of writing its bare text/html line
    server.on('wsClientError', (error: Error, socket: Duplex, request: IncomingMessage) =>
      refuseHandshake(request, socket, error.message),
    );
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

/**
 * Answers an upgrade request with `status` and the JSON error body (the code an HTTP error of
 * that status has), then closes the connection: Node hands an upgrade's socket over bare, so
 * the answer is written here, and a client's reset meanwhile is not an error of the server.
 */
function refuseUpgrade(
  request: IncomingMessage,
  socket: Duplex,
  status: number,
  message: string,
  headers: Record<string, string> = {},
  /** The body's code, where it is not the one of its status (`errorBodyOf`). */
  code?: string,
): void {
  socket.on('error', () => socket.destroy());
  if (socket.destroyed) return;
  const { json, correlationId } = errorBodyOf(request, status, message, code);
  socket.once('finish', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
      'Content-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(json)}\r\n` +
      `x-correlation-id: ${correlationId}\r\n` +
      Object.entries(headers)
        .map(([name, value]) => `${name}: ${value}\r\n`)
        .join('') +
      'Connection: close\r\n\r\n' +
      json,
  );
}

/** The JSON error body of a refused upgrade, with the request's correlation id. */
function errorBodyOf(
  request: IncomingMessage,
  status: number,
  message: string,
  code?: string,
): { json: string; correlationId: string } {
  const correlationId = correlationIdOf(request.headers['x-correlation-id']);
  const body: ErrorBody = {
    statusCode: status,
    // 405: the code of the HTTP routes' wrong method (docs/errors.md)
    code:
      code ??
      (status === 405 ? 'method_not_allowed' : (CODE_BY_STATUS[status] ?? `http_${status}`)),
    message,
    correlationId,
  };
  return { json: JSON.stringify(body), correlationId };
}

/**
 * The answer to a handshake `ws` refused (its `wsClientError`, whose message says why): what
 * `ws` itself answers (405 with `Allow: GET` for another method; 400 otherwise, with the
 * versions taken in `Sec-WebSocket-Version` for a version it does not speak), with the JSON
 * error body.
 */
function refuseHandshake(request: IncomingMessage, socket: Duplex, reason: string): void {
  if (request.method !== 'GET') {
    refuseUpgrade(request, socket, 405, `${reason}: a WebSocket upgrade is a GET`, {
      Allow: 'GET',
    });
    return;
  }
  const headers: Record<string, string> = /Sec-WebSocket-Version/i.test(reason)
    ? { 'Sec-WebSocket-Version': '13, 8' }
    : {};
  refuseUpgrade(request, socket, 400, reason, headers);
}

/**
 * Refuses a handshake from `verifyClient` with `status` and the JSON error body, as
 * `refuseUpgrade` does (`ws` writes it, with `Connection: close`, and closes the connection).
 */
function refuseVerified(
  done: VerifyDone,
  request: IncomingMessage,
  status: number,
  message: string,
  headers: Record<string, string> = {},
): void {
  const { json, correlationId } = errorBodyOf(request, status, message);
  done(false, status, json, {
    'Content-Type': 'application/json; charset=utf-8',
    'x-correlation-id': correlationId,
    ...headers,
  });
}

const SHUTTING_DOWN = 'The server is shutting down; reconnect';

function retryMessage(seconds: number): string {
  return `Too many requests from this address; retry after ${seconds} s`;
}
