import { connect } from 'node:net';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  /** The bytes after the headers as text (chunk sizes included when the answer is chunked). */
  body: string;
}

/**
 * One HTTP/1.1 request with its request target sent byte for byte as given: fetch and the URL
 * parser would resolve `/./` and `/x/../`, and some clients merge slashes; a proxy's rules have
 * to hold for what a client can really send. The connection is closed after the answer.
 */
export function rawRequest(
  host: string,
  port: number,
  method: string,
  target: string,
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, host);
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('end', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const split = text.indexOf('\r\n\r\n');
      const head = (split < 0 ? text : text.slice(0, split)).split('\r\n');
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(head[0] ?? '');
      if (!status) return reject(new Error(`no status line in ${JSON.stringify(text)}`));
      const headers: Record<string, string> = {};
      for (const line of head.slice(1)) {
        const colon = line.indexOf(':');
        if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({
        status: Number(status[1]),
        headers,
        body: split < 0 ? '' : text.slice(split + 4),
      });
    });
    socket.write(
      `${method} ${target} HTTP/1.1\r\nHost: ${host}:${port}\r\nConnection: close\r\n\r\n`,
    );
  });
}
