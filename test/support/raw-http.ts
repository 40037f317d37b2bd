import { connect } from 'node:net';

/**
 * Sends `bytes` in one write on a fresh TCP connection to `baseUrl`'s host and port, and reads
 * until the server closes it (or the connection fails): what a client that speaks HTTP by hand
 * (or does not speak it) gets back.
 */
export function rawExchange(baseUrl: string, bytes: string): Promise<string> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.once('connect', () => socket.write(bytes));
  });
}
