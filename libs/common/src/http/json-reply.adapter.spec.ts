import { StreamableFile } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import type { Express, Request, Response } from 'express';
import { createServer, request, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { JsonReplyExpressAdapter } from './json-reply.adapter';
import { seededRandom as prng } from '../testing/seeded-random';

const ODD = [
  '',
  'plain',
  '"q" \\ /',
  '\u0000\u001f\n',
  'é — 中文',
  '\ud83d\ude00',
  '\ud800',
  '\u2028',
  '<&>',
];

function randomValue(next: () => number, depth: number): unknown {
  switch (Math.floor(next() * (depth > 2 ? 5 : 8))) {
    case 0:
      return ODD[Math.floor(next() * ODD.length)];
    case 1:
      return [0, -0, 1.5, 1e21, NaN, Infinity][Math.floor(next() * 6)];
    case 2:
      return next() < 0.5;
    case 3:
      return null;
    case 4:
      return [undefined, new Date(Math.floor(next() * 2e12)), 'x'.repeat(400)][
        Math.floor(next() * 3)
      ];
    case 5:
      return Array.from({ length: Math.floor(next() * 5) }, () => randomValue(next, depth + 1));
    default: {
      const value: Record<string, unknown> = {};
      const count = Math.floor(next() * 5);
      for (let i = 0; i < count; i++) {
        value[next() < 0.3 ? ODD[Math.floor(next() * ODD.length)] : `k${i}`] = randomValue(
          next,
          depth + 1,
        );
      }
      return value;
    }
  }
}

/** What a handler answered and what ran before the reply. */
interface Case {
  body: unknown;
  status?: number;
  contentType?: string;
  etag?: string;
}

interface Rig {
  adapter: ExpressAdapter;
  server: Server;
  port: number;
}

const cases = new Map<string, Case>();

function rig(adapter: ExpressAdapter): Promise<Rig> {
  const app = adapter.getInstance<Express>();
  app.disable('x-powered-by');
  app.all('/case/:id', (req: Request, res: Response) => {
    const c = cases.get(req.params.id as string)!;
    res.setHeader('X-RateLimit-Limit-ip', '100');
    if (c.contentType) res.setHeader('Content-Type', c.contentType);
    if (c.etag) res.setHeader('ETag', c.etag);
    const body =
      c.body === 'stream' ? new StreamableFile(Readable.from([Buffer.from('abc')])) : c.body;
    adapter.reply(res, body, c.status);
  });
  const server = createServer(app);
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ adapter, server, port: (server.address() as AddressInfo).port }),
    ),
  );
}

interface Answer {
  status?: number;
  headers: string[];
  body: string;
}

function call(port: number, path: string, method: string, headers: Record<string, string>) {
  return new Promise<Answer>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const raw: string[] = [];
        for (let i = 0; i < res.rawHeaders.length; i += 2) {
          if (res.rawHeaders[i].toLowerCase() === 'date') continue;
          raw.push(`${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}`);
        }
        resolve({
          status: res.statusCode,
          headers: raw,
          body: Buffer.concat(chunks).toString('latin1'),
        });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

describe('JsonReplyExpressAdapter', () => {
  let library: Rig;
  let ours: Rig;
  const replies = jest.spyOn(ExpressAdapter.prototype, 'reply');

  beforeAll(async () => {
    library = await rig(new ExpressAdapter());
    ours = await rig(new JsonReplyExpressAdapter());
  });

  afterAll(async () => {
    replies.mockRestore();
    await Promise.all([library, ours].map((r) => new Promise((done) => r.server.close(done))));
  });

  /** The same request to both; fails with the case if anything on the wire differs. */
  async function same(id: string, method = 'GET', headers: Record<string, string> = {}) {
    const expected = await call(library.port, `/case/${id}`, method, headers);
    replies.mockClear();
    const actual = await call(ours.port, `/case/${id}`, method, headers);
    const viaLibrary = replies.mock.calls.length > 0;
    if (JSON.stringify(actual) !== JSON.stringify(expected)) {
      throw new Error(
        `${method} ${JSON.stringify(cases.get(id))} ${JSON.stringify(headers)}:\nlibrary ${JSON.stringify(expected)}\nours    ${JSON.stringify(actual)}`,
      );
    }
    return { answer: actual, viaLibrary };
  }

  it('should write the bytes and headers res.json writes for random answers, without the library', async () => {
    const next = prng(99);
    let shortcuts = 0;
    for (let i = 0; i < 400; i++) {
      const id = `r${i}`;
      cases.set(id, {
        body: randomValue(next, 0),
        status: [undefined, 200, 201, 202, 400, 404, 500][Math.floor(next() * 7)],
      });
      const { viaLibrary } = await same(id, ['GET', 'POST', 'DELETE'][i % 3]);
      if (!viaLibrary) shortcuts++;
    }
    expect(shortcuts).toBeGreaterThan(150);
  });

  it('should answer as the library in every case it leaves to it', async () => {
    const body = { device_id: 'TEE-1', n: [1, 2] };
    cases.set('plain', { body });
    const first = await same('plain');
    expect(first.viaLibrary).toBe(false);
    const etag = first.answer.headers.find((h) => h.startsWith('ETag: '))!.slice(6);
    // conditional GETs (a 304 from req.fresh) and HEAD
    expect((await same('plain', 'GET', { 'If-None-Match': etag })).answer.status).toBe(304);
    await same('plain', 'GET', { 'If-None-Match': '"other"' });
    await same('plain', 'GET', { 'If-Modified-Since': new Date().toUTCString() });
    await same('plain', 'HEAD');
    await same('plain', 'HEAD', { 'If-None-Match': etag });
    // statuses without a body, a content type or an ETag already set
    for (const status of [204, 205, 304]) {
      cases.set(`s${status}`, { body, status });
      await same(`s${status}`);
    }
    cases.set('typed', { body, contentType: 'text/plain' });
    await same('typed');
    cases.set('typed-error', {
      body: { statusCode: 400, message: 'x' },
      contentType: 'text/html',
      status: 400,
    });
    await same('typed-error');
    cases.set('tagged', { body, etag: '"mine"' });
    await same('tagged');
    // not objects, errors, streams, a toJSON answering undefined
    for (const [id, value] of [
      ['string', 'text'],
      ['number', 5],
      ['null', null],
      ['undefined', undefined],
      ['error', new Error('secret')],
      ['stream', 'stream'],
      ['tojson', { toJSON: () => undefined }],
      ['date', new Date(0)],
      ['buffer', Buffer.from('ab')],
      ['array', [1, 'a', null]],
    ] as [string, unknown][]) {
      cases.set(id, { body: value });
      await same(id);
      cases.set(`${id}-500`, { body: value, status: 500 });
      await same(`${id}-500`);
    }
  });

  it('should follow the app settings for ETags and JSON as res.json does', async () => {
    cases.set('settings', { body: { a: '<b>', list: [1, 2, 3], s: 'x'.repeat(1500) } });
    const settings: [string, unknown][] = [
      ['etag', false],
      ['etag', 'strong'],
      ['json spaces', 2],
      ['json escape', true],
      ['json replacer', (_key: string, value: unknown) => value],
    ];
    for (const [name, value] of settings) {
      for (const r of [library, ours]) r.adapter.getInstance<Express>().set(name, value);
      await same('settings');
      for (const r of [library, ours]) {
        r.adapter.getInstance<Express>().set(name, name === 'etag' ? 'weak' : undefined);
      }
    }
    expect((await same('settings')).viaLibrary).toBe(false);
  });
});
