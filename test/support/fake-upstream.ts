import { createServer, IncomingMessage, Server } from 'node:http';
import { Env } from '@app/common';
import { startTestApp, TestApp } from './test-app';

export interface UpstreamCall {
  headers: IncomingMessage['headers'];
  body: { platform_id?: string; image_base64?: string };
  /**
   * Settles once the answer is over: sent in full, or its connection closed by either side (a
   * `trickleMs` answer is never sent in full: this settles when the caller lets go).
   */
  closed: Promise<void>;
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
  /** Answer only once this settles (a test acts while the request is with the upstream). */
  hold?: Promise<unknown>;
  headers?: Record<string, string>;
  /** Cut the connection after reading the request, without an answer. */
  hangUp?: boolean;
  /**
   * Send the status line, the headers and `{"status":` at once, then one space every
   * `trickleMs`, never the rest: an answer that never completes, though its socket is never
   * idle for long.
   */
  trickleMs?: number;
};

/**
 * A real local HTTP server standing in for the upstream identity API. Only its behaviour is
 * scripted (status, body, delay); everything our code does against it is real HTTP.
 */
export class FakeUpstream {
  /** What it answers unless a test scripts otherwise: the face verified. */
  static readonly VERIFIED: UpstreamBehaviour = () => ({
    status: 200,
    body: { status: 'success', message: 'face verified' },
  });

  readonly calls: UpstreamCall[] = [];
  behaviour: UpstreamBehaviour = FakeUpstream.VERIFIED;
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
          closed: new Promise((resolve) => res.once('close', () => resolve())),
        };
        this.calls.push(call);
        const answer = this.behaviour(call, this.calls.length - 1);
        const reply = () => {
          if (res.destroyed) return;
          if (answer.hangUp) return void req.socket.destroy();
          if (answer.trickleMs) {
            res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
            res.write('{"status":');
            const trickle = setInterval(() => res.write(' '), answer.trickleMs).unref();
            return void res.once('close', () => clearInterval(trickle));
          }
          res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
          res.end(answer.rawBody ?? JSON.stringify(answer.body ?? {}));
        };
        if (answer.hold) void answer.hold.finally(reply);
        else if (answer.delayMs) setTimeout(reply, answer.delayMs).unref();
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

export interface UpstreamAppsOptions {
  /**
   * The settings of every app started on the fixture, over UPSTREAM_URL (the fake upstream's
   * address) and under a test's own (`start(env)`).
   */
  env?: Env;
  /** Apps started at once, all with `env` (default 1; 0 when the tests start their own). */
  apps?: number;
}

/** Apps of the real AppModule (startTestApp) whose upstream identity API is one FakeUpstream. */
export interface UpstreamApps {
  upstream: FakeUpstream;
  /** The apps started so far, in order (those of `options.apps` first). */
  apps: TestApp[];
  /** The first app started. */
  readonly t: TestApp;
  /** One more app on the same upstream, with `env` over the fixture's; closed by `close`. */
  start(env?: Env): Promise<TestApp>;
  /** Forgets the calls the upstream got; with `behaviour`, it also answers FakeUpstream.VERIFIED again. */
  reset(options?: { behaviour?: boolean }): void;
  /** Closes every app a test has not closed itself, in order, then the upstream. */
  close(): Promise<void>;
}

/**
 * The relay suites' fixture: a FakeUpstream (a real local HTTP server) and, pointed at it, the
 * apps the suite needs, each booted as main.ts does on a real port. An app's `close` may be
 * called by a test (a shutdown test) and again by the fixture's: only the first one runs.
 */
export async function startUpstreamApps(options: UpstreamAppsOptions = {}): Promise<UpstreamApps> {
  const upstream = await new FakeUpstream().start();
  const apps: TestApp[] = [];
  const start = async (env: Env = {}): Promise<TestApp> => {
    const app = await startTestApp({ UPSTREAM_URL: upstream.url, ...options.env, ...env });
    let closing: Promise<void> | undefined;
    const close = app.close;
    app.close = (closeOptions) => (closing ??= close(closeOptions));
    apps.push(app);
    return app;
  };
  const fixture: UpstreamApps = {
    upstream,
    apps,
    get t() {
      if (apps.length === 0) throw new Error('no app started on the fake upstream yet');
      return apps[0];
    },
    start,
    reset: ({ behaviour = false } = {}) => {
      upstream.calls.length = 0;
      if (behaviour) upstream.behaviour = FakeUpstream.VERIFIED;
    },
    close: async () => {
      try {
        for (const app of apps) await app.close();
      } finally {
        await upstream.stop();
      }
    },
  };
  try {
    for (let i = 0; i < (options.apps ?? 1); i++) await start();
  } catch (error) {
    await fixture.close().catch(() => undefined);
    throw error;
  }
  return fixture;
}

/** A tiny valid JPEG header plus filler: what a kiosk camera sends, as far as we check. */
export function fakeJpeg(size = 2048): Buffer {
  const bytes = Buffer.alloc(size, 0x42);
  bytes[0] = 0xff;
  bytes[1] = 0xd8;
  bytes[2] = 0xff;
  return bytes;
}
