import { randomUUID } from 'node:crypto';
import { STATUS_CODES, Server } from 'node:http';
import type { Duplex } from 'node:stream';

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
const MALFORMED = {
  status: 400,
  code: 'malformed_request',
  message: 'The request is not well-formed HTTP',
};

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
): void {
  let loggedAt = 0;
  let unlogged = 0;
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    // a connection gone, or a response pending on it (a pipelined request before this one:
    // an answer written now would be read as that one's): nothing can be answered
    const pending = (socket as Duplex & { _httpMessage?: unknown })._httpMessage;
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
    // a line a second at most: anyone can send such requests
    const now = Date.now();
    if (now - loggedAt < 1000) {
      unlogged += 1;
      return;
    }
    loggedAt = now;
    onRefused(refusal.code, correlationId, unlogged);
    unlogged = 0;
  });
}
