import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

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
    socket.off('error', onError);
    socket.unshift(Buffer.concat([Buffer.from(headWithoutUpgrade(request), 'latin1'), head]));
    server.emit('connection', socket);
  };
  resume();
}

/**
 * The request's head as it came (its method, target, version, header names and values: Node
 * reads header bytes as latin1, written back the same way), less `Upgrade` and the `upgrade`
 * token of `Connection` (a `Connection` left empty is left out).
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
