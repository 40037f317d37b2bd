import express from 'express';
import { randomBytes } from 'node:crypto';
import { request, Server } from 'node:http';
import { AddressInfo, connect } from 'node:net';
import { encodeJson, escapeNonAscii, sendJson } from './json-answer';
import { seededRandom as prng } from '../testing/seeded-random';

const ODD_STRINGS = [
  '',
  'plain',
  '"quoted" \\ back/slash',
  '\u0000\u0001\u001f\n\r\t\b\f',
  'é — ü 中文',
  '\ud83d\ude00 emoji',
  '\ud800 lone high',
  'lone low \udc00',
  '\u2028\u2029',
  '— origin 1234\n',
];

function randomValue(next: () => number, depth: number): unknown {
  const pick = Math.floor(next() * (depth > 3 ? 6 : 9));
  switch (pick) {
    case 0:
      return ODD_STRINGS[Math.floor(next() * ODD_STRINGS.length)];
    case 1:
      return randomBytes(32).toString('hex');
    case 2:
      return [0, -0, 1.5, -2e-7, 1e21, Number.MAX_SAFE_INTEGER, NaN, Infinity][
        Math.floor(next() * 8)
      ];
    case 3:
      return next() < 0.5;
    case 4:
      return null;
    case 5:
      return [undefined, new Date(Math.floor(next() * 2e12))][Math.floor(next() * 2)];
    case 6:
      return Array.from({ length: Math.floor(next() * 6) }, () => randomValue(next, depth + 1));
    default:
      return randomObject(next, depth + 1);
  }
}

function randomObject(next: () => number, depth: number): Record<string, unknown> {
  const value: Record<string, unknown> = {};
  const members = Math.floor(next() * 6);
  for (let i = 0; i < members; i++) {
    const key = next() < 0.3 ? ODD_STRINGS[Math.floor(next() * ODD_STRINGS.length)] : `k${i}`;
    value[key] = randomValue(next, depth);
  }
  return value;
}

/** A sync answer's shape: results with receipts, counts, checkpoints with a signed note. */
function syncLike(packets: number, proofLength: number): Record<string, unknown> {
  const hex = () => randomBytes(32).toString('hex');
  return {
    results: Array.from({ length: packets }, (_, i) =>
      i % 7 === 3
        ? { packetId: `bad "${i}" \ud83d`, status: 'rejected', reason: 'malformed_packet' }
        : {
            packetId: `0000${i}`,
            status: 'accepted',
            seq: 1000 + i,
            recordHash: hex(),
            receipt: {
              seq: 1000 + i,
              leafIndex: 999 + i,
              leafHash: hex(),
              treeSize: 2000,
              inclusionProof: Array.from({ length: proofLength }, hex),
            },
          },
    ),
    accepted: packets,
    duplicates: 0,
    rejected: 0,
    checkpoints: [
      {
        siteId: 'site-1',
        origin: 'mdai.example/ledger/site-1',
        treeSize: 2000,
        rootHash: hex(),
        note: `mdai.example/ledger/site-1\n2000\nabc=\n\n— mdai.example/ledger/site-1 Zm9v\n`,
      },
    ],
  };
}

/** What the encoder must write: JSON.stringify's text with its characters outside ASCII escaped. */
function asciiJson(value: unknown): Buffer {
  const text = JSON.stringify(value).replace(
    /[\u0080-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
  return Buffer.from(text, 'latin1');
}

describe('escapeNonAscii', () => {
  it('should keep the JSON value and leave only ASCII', () => {
    for (const s of ODD_STRINGS) {
      const text = escapeNonAscii(JSON.stringify({ [s]: [s] }));
      expect(/[\u0080-\uffff]/.test(text)).toBe(false);
      expect(JSON.parse(text)).toEqual({ [s]: [s] });
    }
    expect(escapeNonAscii('"— é \ud83d\ude00"')).toBe('"\\u2014 \\u00e9 \\ud83d\\ude00"');
    expect(escapeNonAscii('{"a":"plain \\u00e9"}')).toBe('{"a":"plain \\u00e9"}');
  });
});

describe('encodeJson', () => {
  it('should give the bytes of JSON.stringify, in ASCII, for a sync answer', () => {
    for (const value of [syncLike(0, 0), syncLike(3, 2), syncLike(500, 14)]) {
      const bytes = encodeJson(value);
      expect(bytes.equals(asciiJson(value))).toBe(true);
      expect(JSON.parse(bytes.toString('utf8'))).toEqual(JSON.parse(JSON.stringify(value)));
    }
  });

  it('should give the bytes of JSON.stringify, in ASCII, for odd members (undefined, toJSON, escapes, arrays)', () => {
    const odd: Record<string, unknown> = {
      gone: undefined,
      fn: () => 1,
      when: new Date(0),
      holes: [undefined, () => 1, null, 1],
      nested: { toJSON: () => 'replaced' },
      datedArray: Object.assign([1, 2], { toJSON: () => 'array replaced' }),
      empty: [],
      // longer than the items encoded together: the unwritable ones on either side of a seam
      long: Array.from({ length: 97 }, (_, i) => [undefined, () => 1, i, 'é', new Date(i)][i % 5]),
    };
    for (const s of ODD_STRINGS) odd[s] = [s, { [s]: s }];
    expect(encodeJson(odd).toString('latin1')).toBe(asciiJson(odd).toString('latin1'));
    expect(encodeJson({}).toString()).toBe('{}');
  });

  it('should write a text whole at the end of its buffer, whatever its characters (the room counted in bytes there)', () => {
    // the first buffer is 64 KiB: texts that end just before, at and after its end, with
    // characters of 1 to 4 UTF-8 bytes last
    for (const tail of ['a', 'é', '—', '\ud83d\ude00']) {
      for (let n = 65_536 - 24; n <= 65_536 + 4; n++) {
        const value = { pad: 'x'.repeat(n - 20), items: ['y', `${tail}z`, tail] };
        expect(encodeJson(value).toString('latin1')).toBe(asciiJson(value).toString('latin1'));
      }
    }
  });

  it('should join the texts of an array past the items encoded together, across buffer growths and escapes', () => {
    // 32 items a text: seams at 32, 64…; items of ~3 KiB outgrow the first 64 KiB buffer
    // mid-array, some ending in a character written as an escape next to a seam
    for (const length of [1, 31, 32, 33, 64, 65, 100]) {
      const value = {
        n: length,
        items: Array.from({ length }, (_, i) => `${'w'.repeat(3000 + i)}${i % 3 ? '' : 'é'}`),
        after: [[], {}],
      };
      expect(encodeJson(value).toString('latin1')).toBe(asciiJson(value).toString('latin1'));
    }
  });

  it('should give the bytes of JSON.stringify, in ASCII, for random values', () => {
    const next = prng(17);
    for (let i = 0; i < 2000; i++) {
      const value = randomObject(next, 0);
      const expected = asciiJson(value);
      const actual = encodeJson(value);
      if (!actual.equals(expected)) {
        throw new Error(`case ${i}: ${JSON.stringify(value)} encoded as ${actual.toString()}`);
      }
    }
  });
});

describe('sendJson', () => {
  let server: Server;
  let base: { host: string; port: number };
  const answers = new Map<string, unknown>();

  beforeAll(async () => {
    const app = express();
    app.disable('x-powered-by');
    app.get('/json/:name', (req, res) => {
      res.status(200).json(answers.get(req.params.name));
    });
    app.get('/send/:name', (req, res) => {
      sendJson(res, 200, answers.get(req.params.name));
    });
    app.post('/json/:name', (req, res) => {
      res.status(200).json(answers.get(req.params.name));
    });
    app.post('/send/:name', (req, res) => {
      sendJson(res, 200, answers.get(req.params.name));
    });
    app.post('/send-204/:name', (req, res) => {
      sendJson(res, 204, answers.get(req.params.name));
    });
    app.post('/json-204/:name', (req, res) => {
      res.status(204).json(answers.get(req.params.name));
    });
    app.get('/send-201/:name', (req, res) => {
      sendJson(res, 201, answers.get(req.params.name));
    });
    server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    base = { host: '127.0.0.1', port: (server.address() as AddressInfo).port };
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  /** Status, raw headers (but Date) and body bytes, as a client receives them. */
  function get(
    path: string,
    method = 'GET',
  ): Promise<{ status?: number; headers: string[]; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const req = request({ ...base, path, method, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const headers: string[] = [];
          for (let i = 0; i < res.rawHeaders.length; i += 2) {
            if (res.rawHeaders[i].toLowerCase() === 'date') continue;
            headers.push(`${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}`);
          }
          resolve({ status: res.statusCode, headers, body: Buffer.concat(chunks) });
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
  }

  it('should answer the status, headers and bytes res.json answers for an ASCII answer', async () => {
    answers.set('ascii', { ok: true, note: 'plain', list: [1, 'two'] });
    answers.set('sync-ascii', { ...syncLike(500, 14), checkpoints: [] });
    answers.set('array', [1, 2]);
    for (const name of ['ascii', 'sync-ascii', 'array']) {
      const viaJson = await get(`/json/${name}`);
      const viaSend = await get(`/send/${name}`);
      expect(viaSend.status).toBe(200);
      expect(viaSend.headers).toEqual(viaJson.headers);
      expect(viaSend.body.equals(viaJson.body)).toBe(true);
    }
    expect((await get('/send-201/ascii')).status).toBe(201);
  });

  it('should answer the same JSON value in ASCII, with the headers of those bytes, otherwise', async () => {
    answers.set('small', { ok: true, note: '— é' });
    answers.set('sync', syncLike(500, 14));
    for (const name of ['small', 'sync']) {
      const viaJson = await get(`/json/${name}`);
      const viaSend = await get(`/send/${name}`);
      expect(viaSend.status).toBe(200);
      expect(viaSend.body.equals(asciiJson(answers.get(name)))).toBe(true);
      expect(JSON.parse(viaSend.body.toString('utf8'))).toEqual(
        JSON.parse(viaJson.body.toString('utf8')),
      );
      const header = (h: string[], n: string) => h.find((l) => l.startsWith(`${n}: `));
      expect(header(viaSend.headers, 'Content-Type')).toBe(header(viaJson.headers, 'Content-Type'));
      expect(header(viaSend.headers, 'Content-Length')).toBe(
        `Content-Length: ${viaSend.body.length}`,
      );
      // express's weak ETag of the bytes sent (length in hex first)
      expect(header(viaSend.headers, 'ETag')).toMatch(
        new RegExp(`^ETag: W/"${viaSend.body.length.toString(16)}-`),
      );
    }
  });

  it("should answer a POST res.json's status, headers and bytes but its ETag (a POST's answer is never conditional)", async () => {
    answers.set('sync-ascii', { ...syncLike(500, 14), checkpoints: [] });
    const viaJson = await get('/json/sync-ascii', 'POST');
    const viaSend = await get('/send/sync-ascii', 'POST');
    expect(viaSend.status).toBe(200);
    expect(viaJson.headers.filter((h) => h.startsWith('ETag: '))).toHaveLength(1);
    expect(viaSend.headers).toEqual(viaJson.headers.filter((h) => !h.startsWith('ETag: ')));
    expect(viaSend.body.equals(viaJson.body)).toBe(true);
    // a GET of the same answer keeps it
    const got = await get('/send/sync-ascii');
    expect(got.headers).toEqual(viaJson.headers);
    // a bodiless status: what res.json answers (no body, no Content-Length)
    answers.set('small', { ok: true });
    const empty = await get('/send-204/small', 'POST');
    expect(empty.status).toBe(204);
    expect(empty.body.length).toBe(0);
    expect(empty.headers).toEqual((await get('/json-204/small', 'POST')).headers);
  });

  /**
   * The bodies of pipelined GETs on one connection: Node answers them in order, so every answer
   * after the first is encoded while the ones before it are still queued, unwritten.
   */
  function pipelined(paths: string[]): Promise<Buffer[]> {
    return new Promise((resolve, reject) => {
      const socket = connect(base.port, base.host);
      const chunks: Buffer[] = [];
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.on('error', reject);
      socket.on('end', () => {
        let rest = Buffer.concat(chunks);
        const bodies: Buffer[] = [];
        while (rest.length > 0) {
          const end = rest.indexOf('\r\n\r\n');
          const length = Number(
            /content-length: (\d+)/i.exec(rest.subarray(0, end).toString())![1],
          );
          bodies.push(rest.subarray(end + 4, end + 4 + length));
          rest = rest.subarray(end + 4 + length);
        }
        resolve(bodies);
      });
      socket.end(
        paths
          .map(
            (path, i) =>
              `GET ${path} HTTP/1.1\r\nHost: x\r\n${i === paths.length - 1 ? 'Connection: close\r\n' : ''}\r\n`,
          )
          .join(''),
      );
    });
  }

  it('should keep every answer whole while earlier ones are still being written (pooled buffers)', async () => {
    const names = Array.from({ length: 12 }, (_, i) => `many-${i}`);
    // sizes around and beyond the pool's buffers, so answers grow, reuse and skip the pool
    names.forEach((name, i) => answers.set(name, syncLike(40 + i * 150, 14)));
    for (let round = 0; round < 2; round++) {
      const paths = [...names, ...names].map((name) => `/send/${name}`);
      const bodies = await pipelined(paths);
      expect(bodies).toHaveLength(paths.length);
      bodies.forEach((body, i) => {
        const expected = asciiJson(answers.get(names[i % names.length]));
        expect(body.equals(expected)).toBe(true);
      });
    }
  });
});
