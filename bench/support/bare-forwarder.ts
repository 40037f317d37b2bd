/**
 * The baseline: a bare `ws` forwarder with no auth, parsing, privacy or bus. Sockets pair by
 * `?s=<session>&r=<m|d>` and every frame goes to the peer as is. Prints `READY <port>`.
 * `coalesce`: frames to one socket within one tick leave in one write (corked until the end of
 * the tick), as the relay does (RelayDelivery.write), to compare the rest of the work alone.
 */
import { createServer } from 'node:http';
import type { Socket } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { answerMemoryRequests } from './child';

export function startBareForwarder(
  port = 0,
  coalesce = false,
): Promise<{ port: number; close: () => Promise<void> }> {
  const server = createServer();
  const wss = new WebSocketServer({ server });
  const pairs = new Map<string, { m?: WebSocket; d?: WebSocket }>();
  const sockets = new WeakMap<WebSocket, Socket>();
  const corked = new Set<Socket>();
  const uncork = (socket: Socket) => {
    corked.delete(socket);
    socket.uncork();
  };
  const corkForTick = (peer: WebSocket) => {
    const socket = sockets.get(peer);
    if (!socket || corked.has(socket)) return;
    corked.add(socket);
    socket.cork();
    process.nextTick(uncork, socket);
  };
  wss.on('connection', (ws, request) => {
    sockets.set(ws, request.socket);
    const url = new URL(request.url ?? '/', 'ws://x');
    const session = url.searchParams.get('s') ?? '';
    const role = url.searchParams.get('r') === 'd' ? 'd' : 'm';
    const pair = pairs.get(session) ?? {};
    pair[role] = ws;
    pairs.set(session, pair);
    ws.on('message', (data, isBinary) => {
      const peer = role === 'm' ? pair.d : pair.m;
      if (!peer) return;
      if (coalesce) corkForTick(peer);
      peer.send(data, { binary: isBinary });
    });
    ws.on('close', () => {
      if (pair[role] === ws) delete pair[role];
      if (!pair.m && !pair.d) pairs.delete(session);
    });
  });
  return new Promise((resolve) =>
    server.listen(port, '127.0.0.1', () =>
      resolve({
        port: (server.address() as { port: number }).port,
        close: () =>
          new Promise<void>((done) => {
            for (const client of wss.clients) client.terminate();
            wss.close(() => server.close(() => done()));
          }),
      }),
    ),
  );
}

if (require.main === module) {
  void startBareForwarder(0, process.argv[2] === '--coalesce').then(({ port }) => {
    answerMemoryRequests();
    process.stdout.write(`READY ${port}\n`);
  });
}
