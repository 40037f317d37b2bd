import { randomUUID } from 'node:crypto';
import { IncomingMessage, STATUS_CODES, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { CommonError } from '../errors/common.errors';
import { isJsonRequest, jsonBodyDeclaredOver } from './body-pipeline';

/** What Node's HTTP parser refuses before any route, as the API's error codes. */
const REFUSALS: Record<string, { status: number; code: string; message: string }> = {
  HPE_HEADER_OVERFLOW: {
    status: 431,
    code: 'headers_too_large',
    message: "The request line and headers are over the server's limit",
  },
  ERR_HTTP_REQUEST_TIMEOUT: {
    status: 408,
    code: 'request_timeout',
    message: 'The request headers did not arrive in time',
  },
};
/** The same refusals, of a request whose headers arrived and whose body did not. */
const BODY_REFUSALS: Record<string, { status: number; code: string; message: string }> = {
  ERR_HTTP_REQUEST_TIMEOUT: {
    status: 408,
    code: 'request_timeout',
    message: 'The request body did not arrive in time',
  },
  // the client closed its side (a half-close) before the body's end
  HPE_INVALID_EOF_STATE: {
    status: 400,
    code: 'request_aborted',
    message: 'The client stopped sending the request body before its end',
  },
};
const BODY_STALLED = {
  status: 408,
  code: 'request_timeout',
  message: 'The request body stopped arriving: no byte came for too long',
};
const BODY_TOO_SLOW = {
  status: 408,
  code: 'request_timeout',
  message: 'The JSON request body did not arrive whole in time',
};
const BODY_BELOW_RATE = {
  status: 408,
  code: 'request_timeout',
  message: 'The request body arrived too slowly: not whole in the time its size is given',
};
const MALFORMED = {
  status: 400,
  code: 'malformed_request',
  message: 'The request is not well-formed HTTP',
};

/**
 * An HTTP/1.1 request without Host (`hostRequired`'s answer, before an Expect is looked at; a
 * WebSocket upgrade's too, before the handshake).
 */
export const HOST_MISSING = {
  status: 400,
  code: 'malformed_request' as const,
  message: 'An HTTP/1.1 request must carry a Host header',
};

/** True for an HTTP/1.1 request without a Host header (RFC 9112 §3.2; HTTP/1.0 needs none). */
export function lacksHost(req: IncomingMessage): boolean {
  return req.headers.host === undefined && req.httpVersionMajor === 1 && req.httpVersionMinor === 1;
}

const EXPECTATION_FAILED = {
  status: 417,
  code: 'expectation_failed',
  message:
    'The request\'s Expect header asks for what the server does not do (only "100-continue")',
};

/** What bounds a request body's time (see `answerClientErrors`). */
export interface BodyTimeouts {
  /** No byte for this long: 408. */
  idleMs: number;
  /** A JSON body not whole this long after its headers: 408. */
  jsonTotalMs: number;
  /**
   * Any other body not whole by its headers' time plus the longer of Node's whole-request
   * timeout (`server.requestTimeout`, 300 s by default) and its size at this rate: 408.
   */
  minRateBytesPerSec: number;
  /** The size a chunked body (no Content-Length) is given time for at `minRateBytesPerSec`. */
  chunkedBodyBytes: number;
}

/** Node's default `server.requestTimeout`: the floor of a body's deadline when it is 0 (off). */
const NODE_REQUEST_TIMEOUT_MS = 300_000;

/**
 * Answers what Node's HTTP parser refuses (headers over its 16 KiB limit, a request that is not
 * HTTP, headers too slow) with the API's error body and an `x-correlation-id`, as every other
 * error, where Node wrote a bare status line with no body. Nothing of the request is logged or
 * echoed: its headers may hold a key.
 */
export function answerClientErrors(
  server: Server,
  /** Told of a refusal, a second at most (`since`: refusals not told since the last one). */
  onRefused: (code: string, correlationId: string, since: number) => void = () => undefined,
  /**
   * A body that stops arriving or comes too slowly (see `AppSettings.bodyTimeouts`; `chunkedBodyBytes`:
   * the size a chunked body, of no declared length, is given time for: the largest a route
   * takes): undefined, only Node's own whole-request timeout (`server.requestTimeout`) bounds
   * it; given, a body is this watch's to bound, and Node's whole-request timeout no longer cuts
   * it (the watch's own deadline is never shorter).
   */
  bodyTimeouts?: BodyTimeouts,
): void {
  let loggedAt = 0;
  let unlogged = 0;
  const told = (code: string, correlationId: string): void => {
    // a line a second at most: anyone can send such requests
    const now = Date.now();
    if (now - loggedAt < 1000) {
      unlogged += 1;
      return;
    }
    loggedAt = now;
    onRefused(code, correlationId, unlogged);
    unlogged = 0;
  };
  const watched = new WeakSet<IncomingMessage>();
  /** Responses of whole requests that bytes not HTTP followed: their connection closes after. */
  const closingAfter = new WeakSet<ServerResponse>();
  if (bodyTimeouts) watchBodies(server, bodyTimeouts, told, watched);
  // an Expect other than 100-continue: 417 with the error body (Node's own is bare)
  // (a request without Host is refused first, as `hostRequired` would: 400, not 417)
  server.on('checkExpectation', (request: IncomingMessage, response: ServerResponse) => {
    const refusal = lacksHost(request) ? HOST_MISSING : EXPECTATION_FAILED;
    told(refusal.code, answerThrough(response, refusal));
  });
  // an HTTP/1.1 request without Host is refused (RFC 9112 §3.2) by `hostRequired`, with the
  // error body and a correlation id, where Node answered a bare 400 before any handler
  // (Node reads the option off the server at each request; its typings lack the property)
  (server as Server & { requireHostHeader: boolean }).requireHostHeader = false;
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    const pending = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage;
    const parsing = (socket as Duplex & { parser?: { incoming?: IncomingMessage } | null }).parser
      ?.incoming;
    // Node's whole-request timeout (`server.requestTimeout`, 300 s) on a request whose body the
    // watch bounds: left to the watch, which answers a body that stalls, a JSON body too slow,
    // or any other body slower than the minimum rate past its deadline (never before Node's own
    // timeout: a 32 MiB vault image over a kiosk's poor link, slower than ~110 KB/s, takes longer
    // than 300 s and is given ~68 min at 8 KiB/s). Node has already dropped the connection from
    // its checks: the next request on it is timed again, its headers by `server.headersTimeout`.
    if (
      error.code === 'ERR_HTTP_REQUEST_TIMEOUT' &&
      parsing !== undefined &&
      watched.has(parsing) &&
      pending?.req === parsing &&
      !pending.headersSent
    ) {
      return;
    }
    // a whole request (its body all read) followed by bytes that are not HTTP (a pipelined next
    // request the parser refuses): the whole one is answered by its route, as itself, and the
    // connection closed once that answer is out. Answered 400 in its place, its route would
    // find its response sent (an error with a stack in the log) and its client would be told
    // a request it sent whole was malformed
    if (
      error.code !== 'ECONNRESET' &&
      socket.writable &&
      pending &&
      !pending.headersSent &&
      parsing !== undefined &&
      pending.req === parsing &&
      parsing.complete
    ) {
      // the parser refuses every chunk that comes after: closed once, told once
      if (closingAfter.has(pending)) return;
      closingAfter.add(pending);
      pending.shouldKeepAlive = false;
      const close = (): void => {
        socket.destroy();
      };
      pending.once('finish', close);
      pending.once('close', close);
      told(MALFORMED.code, String(pending.getHeader('x-correlation-id') ?? ''));
      return;
    }
    // the request being read has its response still unwritten (its headers arrived, its body
    // did not): answered through that response, which the routes' own answer then finds sent
    if (
      error.code !== 'ECONNRESET' &&
      socket.writable &&
      pending &&
      !pending.headersSent &&
      parsing !== undefined &&
      pending.req === parsing
    ) {
      const refusal = BODY_REFUSALS[error.code ?? ''] ?? MALFORMED;
      told(refusal.code, answerThrough(pending, refusal));
      return;
    }
    // a connection gone, or a response pending on it (a pipelined request before this one:
    // an answer written now would be read as that one's): nothing can be answered
    if (error.code === 'ECONNRESET' || !socket.writable || pending) {
      socket.destroy();
      return;
    }
    const refusal = REFUSALS[error.code ?? ''] ?? MALFORMED;
    const correlationId = randomUUID();
    const body = JSON.stringify({
      statusCode: refusal.status,
      code: refusal.code,
      message: refusal.message,
      correlationId,
    });
    // closed once the answer is out, whatever the client does (a half-open connection it never
    // closes would otherwise outlive the headers timeout this answers)
    socket.once('finish', () => socket.destroy());
    socket.end(
      `HTTP/1.1 ${refusal.status} ${STATUS_CODES[refusal.status]}\r\n` +
        'Content-Type: application/json; charset=utf-8\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        'Cache-Control: no-store\r\n' +
        `x-correlation-id: ${correlationId}\r\n` +
        'Connection: close\r\n\r\n' +
        body,
    );
    told(refusal.code, correlationId);
  });
}

/**
 * Answers `Expect: 100-continue`: a request whose Content-Length is over what its body may be
 * is answered 413 `payload_too_large` at once, without `100 Continue` (Node sends it before any
 * route could look: a client was told to send a 999999999-byte body and then refused), and its
 * connection closed; any other is told to go on and handled as a request. A JSON body (encoded
 * or not: `jsonBodyDeclaredOver`) may be `jsonLimitBytes`, the limit the pipeline holds it to
 * before routing, whatever the route; any other `maxBodyBytes` (the largest body any
 * route takes: a vault image), the route then holding it to its own.
 */
export function answerExpectContinue(
  server: Server,
  maxBodyBytes: number,
  jsonLimitBytes: number = maxBodyBytes,
): void {
  server.on('checkContinue', (request: IncomingMessage, response: ServerResponse) => {
    // no Host: refused before 100 Continue, so no body is sent for a 400 (`hostRequired`'s)
    if (lacksHost(request)) {
      answerThrough(response, HOST_MISSING);
      return;
    }
    const length = Number(request.headers['content-length']);
    const json = jsonBodyDeclaredOver(request, jsonLimitBytes);
    if (json || length > maxBodyBytes) {
      answerThrough(response, {
        status: 413,
        code: 'payload_too_large',
        message: `The request body is over the largest the server takes (${json ? jsonLimitBytes : maxBodyBytes} bytes)`,
      });
      return;
    }
    response.writeContinue();
    server.emit('request', request, response);
  });
}

/**
 * Bounds how long a request's body may take. Checked every `idleMs` (and at its deadline): a
 * body of which no byte arrived over the whole last period (so a stall is answered between one
 * and two periods after its last byte), unless the server is the one behind (the request holds
 * a full buffer unread: the socket is paused for it), or a body not whole by its deadline, is
 * answered 408 `request_timeout` and its connection closed. The deadline: `jsonTotalMs` after
 * the headers for a JSON body; for any other, the longer of Node's whole-request timeout and
 * its declared length (a chunked body: `chunkedBodyBytes`) at `minRateBytesPerSec`, so a large
 * upload (the vault's) moving slowly but at that rate is not cut, and one trickling a byte
 * every idle period is.
 */
function watchBodies(
  server: Server,
  timeouts: BodyTimeouts,
  told: (code: string, correlationId: string) => void,
  /** The requests whose body this watch bounds (Node's whole-request timeout leaves them). */
  watched: WeakSet<IncomingMessage>,
): void {
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (req.complete) return;
    const length = req.headers['content-length'];
    if (
      (length === undefined || length === '0') &&
      req.headers['transfer-encoding'] === undefined
    ) {
      return;
    }
    watched.add(req);
    const socket = req.socket;
    const json = isJsonRequest(req);
    const declared = length === undefined ? NaN : Number(length);
    const size = Number.isSafeInteger(declared) ? declared : timeouts.chunkedBodyBytes;
    const deadline =
      Date.now() +
      (json
        ? timeouts.jsonTotalMs
        : Math.max(
            server.requestTimeout > 0 ? server.requestTimeout : NODE_REQUEST_TIMEOUT_MS,
            Math.ceil((size / timeouts.minRateBytesPerSec) * 1000),
          ));
    const tooSlow = json ? BODY_TOO_SLOW : BODY_BELOW_RATE;
    let seen = socket.bytesRead;
    const next = (): NodeJS.Timeout =>
      setTimeout(check, Math.max(1, Math.min(timeouts.idleMs, deadline - Date.now()))).unref();
    const check = (): void => {
      if (req.complete || res.headersSent || socket.destroyed) return;
      const read = socket.bytesRead;
      const behind = req.readableLength >= req.readableHighWaterMark;
      if (Date.now() >= deadline) {
        told(tooSlow.code, answerThrough(res, tooSlow));
      } else if (read !== seen || behind) {
        seen = read;
        timer = next();
      } else {
        told(BODY_STALLED.code, answerThrough(res, BODY_STALLED));
      }
    };
    let timer = next();
    res.once('close', () => clearTimeout(timer));
  });
}

/**
 * Writes an error answer through a request's own response (its correlation id, when the
 * request got one) and closes the connection once it is out: the rest of the body is not read.
 */
function answerThrough(
  res: ServerResponse,
  refusal: { status: number; code: string; message: string },
): string {
  const correlationId = String(res.getHeader('x-correlation-id') ?? randomUUID());
  const body = JSON.stringify({
    statusCode: refusal.status,
    code: refusal.code,
    message: refusal.message,
    correlationId,
  });
  res.statusCode = refusal.status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('x-correlation-id', correlationId);
  res.setHeader('Connection', 'close');
  const socket = res.socket;
  // the route reading the body (a vault upload iterating the request) is told the body will not
  // come: its request is destroyed as an interrupted one ('aborted', ECONNRESET), so its await
  // rejects and its cleanup runs. Node itself does not: the request answered, it is no longer
  // among the connection's pending ones, and closing the socket ends nothing the route awaits.
  const cut = (): void => {
    socket?.destroy();
    if (!res.req.destroyed) {
      res.req.destroy(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }));
    }
  };
  res.once('finish', cut);
  res.once('close', cut);
  res.end(body);
  return correlationId;
}

/**
 * Runs second on every request (after the correlation id): an HTTP/1.1 request without a Host
 * header is answered 400 `malformed_request` (RFC 9112 §3.2: a server must) and its connection
 * closed, as Node itself does, with the error body (`answerClientErrors` turns Node's own bare
 * answer off). HTTP/1.0 needs none.
 */
export function hostRequired(
  req: IncomingMessage,
  res: ServerResponse,
  next: (err?: unknown) => void,
): void {
  if (lacksHost(req)) {
    res.setHeader('Connection', 'close');
    next(new CommonError(HOST_MISSING.code, HOST_MISSING.message));
    return;
  }
  next();
}
