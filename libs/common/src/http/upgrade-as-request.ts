import { IncomingMessage, Server, ServerResponse, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { correlationIdOf } from './request-context';

/**
 * Whether `request` asks to upgrade to WebSocket: a `websocket` among the protocols its
 * `Upgrade` header lists (any case, any version suffix).
 */
export function isWebSocketUpgrade(request: IncomingMessage): boolean {
  const upgrade = request.headers.upgrade;
  if (upgrade === undefined) return false;
  return upgrade
    .split(',')
    .some((protocol) => protocol.trim().split('/')[0].trim().toLowerCase() === 'websocket');
}

/**
 * Serves an upgrade request the server does not take (`h2c`, `TLS/1.2`, anything but a
 * WebSocket) as the plain HTTP request it also is: a server may ignore an `Upgrade` it does not
 * support and answer the request as it would without one (RFC 9110 §7.8). Node emits `upgrade`
 * for any request with `Upgrade` and `Connection: upgrade` once the server has an `upgrade`
 * listener (Node 20 has no option to say which protocols it takes), having already parsed the
 * head and handed the socket over bare, with the bytes read past the head (the body, maybe a
 * next pipelined request) in `head`. So the head is written again without `Upgrade` and
 * without `upgrade` in `Connection`, put back in front of what the socket has still to give,
 * and the socket handed to the server again as a connection (`'connection'`, which Node
 * documents for injecting connections): its own parser reads the request and its body, keeps
 * the connection alive and reads the next request on it, times it, counts it among the
 * connections `closeIdleConnections` and `closeAllConnections` close, as any.
 *
 * A response to an earlier pipelined request still being written on the socket is let finish
 * first (the parser of the connection it belongs to sends it, and any queued behind it); if that
 * one closes the connection (`Connection: close`), nothing more is read from it.
 *
 * A request whose `rawHeaders` may have been cut is refused (431 `headers_too_large`, the
 * connection closed), not rebuilt: Node's parser reads every header line (the body's framing,
 * Content-Length or Transfer-Encoding, comes from all of them), but hands them to JavaScript in
 * batches of 32 and keeps a batch only while fewer than `maxHeaderPairs` names and values are
 * kept (`server.maxHeadersCount * 2`, 2000 when it is not set: ~1000 lines). A head rebuilt from
 * a cut `rawHeaders` would lose a Content-Length after the cut, and the body be read as a next
 * request (a request smuggled past a proxy that read the body as a body).
 */
export function serveUpgradeAsRequest(
  server: Server,
  request: IncomingMessage,
  socket: Duplex,
  head: Buffer,
): void {
  // Node hands the socket over without its error listener: a reset meanwhile is no error of ours
  const onError = (): void => {
    socket.destroy();
  };
  socket.on('error', onError);
  const resume = (): void => {
    const pending = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage;
    if (pending) {
      // after Node's own 'finish' listener, which sends the next queued answer or ends the socket
      let done = false;
      const next = (): void => {
        if (done) return;
        done = true;
        setImmediate(resume);
      };
      pending.once('finish', next).once('close', next);
      return;
    }
    if (socket.destroyed || !socket.writable || socket.readableEnded) {
      socket.destroy();
      return;
    }
    if (headersMayBeCut(server, request)) {
      refuse(request, socket, 431, 'headers_too_large', TOO_MANY_LINES);
      return;
    }
    socket.off('error', onError);
    socket.unshift(Buffer.concat([Buffer.from(headWithoutUpgrade(request), 'latin1'), head]));
    server.emit('connection', socket);
  };
  resume();
}

const TOO_MANY_LINES =
  'The request has more header lines than the server reads with an Upgrade it does not take';

/**
 * Whether Node may have left header lines out of `request.rawHeaders` (see
 * `serveUpgradeAsRequest`): as its parser does (`parserOnHeaders` in `_http_common`, the limit
 * from `_http_server`: `maxHeadersCount << 1` when it is a number, else 2000; 0 or less, none),
 * a batch is dropped only once as many as the limit are kept, so fewer than it means none was.
 */
function headersMayBeCut(server: Server, request: IncomingMessage): boolean {
  const count = server.maxHeadersCount;
  const limit = typeof count === 'number' ? count << 1 : 2000;
  return limit > 0 && request.rawHeaders.length >= limit;
}

/** Answers `status` with the JSON error body and the request's correlation id, then closes. */
function refuse(
  request: IncomingMessage,
  socket: Duplex,
  status: number,
  code: string,
  message: string,
): void {
  const correlationId = correlationIdOf(request.headers['x-correlation-id']);
  const json = JSON.stringify({ statusCode: status, code, message, correlationId });
  socket.once('finish', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
      'Content-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(json)}\r\n` +
      'Cache-Control: no-store\r\n' +
      `x-correlation-id: ${correlationId}\r\n` +
      'Connection: close\r\n\r\n' +
      json,
  );
}

/**
 * The request's head as it came (its method, target, version, header names and values: Node
 * reads header bytes as latin1, written back the same way), less `Upgrade` and the `upgrade`
 * token of `Connection` (a `Connection` left empty is left out).
 *
 * What else Node's parser does to `rawHeaders` (Node 20, checked): it keeps every line as sent,
 * in order, duplicates apart (nothing merged: that is `headers`), less each value's leading and
 * trailing whitespace; it refuses (400, before `upgrade`) what it would otherwise have to fold
 * or guess: an obs-fold line, a NUL or CR in a value, a bare LF line end, a space before the
 * colon, an empty name, two Content-Lengths (even equal) or Transfer-Encodings, Content-Length
 * with Transfer-Encoding. So only the count cut (above) loses a line. Its 16 KiB limit counts
 * the names, values and target, not the `: ` and line ends, so the head written again is never
 * over it when the one that came was not.
 */
function headWithoutUpgrade(request: IncomingMessage): string {
  let text = `${request.method ?? 'GET'} ${request.url ?? '/'} HTTP/${request.httpVersion}\r\n`;
  const raw = request.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i];
    let value = raw[i + 1];
    const lower = name.toLowerCase();
    if (lower === 'upgrade') continue;
    if (lower === 'connection') {
      value = value
        .split(',')
        .map((token) => token.trim())
        .filter((token) => token !== '' && token.toLowerCase() !== 'upgrade')
        .join(', ');
      if (value === '') continue;
    }
    text += `${name}: ${value}\r\n`;
  }
  return `${text}\r\n`;
}
