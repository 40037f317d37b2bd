import { Agent, request } from 'node:http';

/**
 * One HTTP request of a bench, its answer read to the end: the status, the body's length, and
 * its text when shorter than `textBelow` bytes (a large body is counted, not kept; '' then).
 * Without `agent`, a connection of its own (no keep-alive).
 */
export function call(
  url: string,
  method: string,
  headers: Record<string, string | number>,
  options: { body?: Buffer; agent?: Agent; textBelow?: number } = {},
): Promise<{ status: number; bytes: number; text: string }> {
  const textBelow = options.textBelow ?? Number.POSITIVE_INFINITY;
  const agent = options.agent ?? new Agent({ keepAlive: false });
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, agent }, (res) => {
      let bytes = 0;
      const parts: Buffer[] = [];
      res.on('data', (chunk: Buffer) => {
        if (bytes < textBelow) parts.push(chunk);
        bytes += chunk.length;
      });
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          bytes,
          text: bytes < textBelow ? Buffer.concat(parts).toString('utf8') : '',
        }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}
