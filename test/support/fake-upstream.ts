import { createServer, IncomingMessage, Server } from 'node:http';

export interface UpstreamCall {
  headers: IncomingMessage['headers'];
  body: { platform_id?: string; image_base64?: string };
}

export type UpstreamBehaviour = (
  call: UpstreamCall,
  index: number,
) => {
  status: number;
  body?: unknown;
  /** The body's text as sent, in place of `body` (an answer JSON.stringify could not write). */
  rawBody?: string;
  delayMs?: number;
  headers?: Record<string, string>;
  /** Cut the connection after reading the request, without an answer. */
  hangUp?: boolean;
};

/**
 * A real local HTTP server standing in for the upstream identity API. Only its behaviour is
 * scripted (status, body, delay); everything our code does against it is real HTTP.
 */
export class FakeUpstream {
  readonly calls: UpstreamCall[] = [];
  behaviour: UpstreamBehaviour = () => ({
    status: 200,
    body: { status: 'success', message: 'face verified' },
  });
  private server!: Server;
  url = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const call: UpstreamCall = {
          headers: req.headers,
          body: JSON.parse(Buffer.concat(chunks).toString() || '{}'),
        };
        this.calls.push(call);
        const answer = this.behaviour(call, this.calls.length - 1);
        const reply = () => {
          if (res.destroyed) return;
          if (answer.hangUp) return void req.socket.destroy();
          res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
          res.end(answer.rawBody ?? JSON.stringify(answer.body ?? {}));
        };
        if (answer.delayMs) setTimeout(reply, answer.delayMs).unref();
        else reply();
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

/** A tiny valid JPEG header plus filler: what a kiosk camera sends, as far as we check. */
export function fakeJpeg(size = 2048): Buffer {
  const bytes = Buffer.alloc(size, 0x42);
  bytes[0] = 0xff;
  bytes[1] = 0xd8;
  bytes[2] = 0xff;
  return bytes;
}
