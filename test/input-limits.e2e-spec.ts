import { gzipSync } from 'node:zlib';
import { canonicalJson, enrollPhone, hmacHex, signPacket } from './support/worker-client';
import { http, startTestApp, TestApp } from './support/test-app';

/** Items 1-4 and 8 of issue 12: hostile JSON never reaches a guard, a pipe or a store as a 500. */

const JSON_ROUTES: [string, string][] = [
  ['POST', '/api/v5/sync'],
  ['POST', '/auth'],
  ['POST', '/api/validate-challenge'],
  ['POST', '/api/v5/device/register'],
  ['POST', '/api/v5/workers'],
  ['POST', '/api/register-device'],
];

const raw = (t: TestApp, method: string, path: string, body: string | Buffer, headers = {}) =>
  http(t.baseUrl, method, path, {
    rawBody: body,
    headers: { 'content-type': 'application/json', ...headers },
  });

const nested = (levels: number) => `${'['.repeat(levels)}${']'.repeat(levels)}`;

async function thekedarDevice(t: TestApp) {
  const thekedar = await http(t.baseUrl, 'POST', '/api/v5/thekedars', {
    key: t.keys.admin,
    body: { name: 'Ramesh', phone: '+91 90000 00011' },
  });
  const reg = await http(t.baseUrl, 'POST', '/api/v5/device/register', {
    body: {
      enrollmentCode: thekedar.body.enrollmentCode,
      fingerprint: { os: 'Android 14', model: 'Pixel 8', simHash: 'thekedar-sim-limits' },
    },
  });
  expect(reg.status).toBe(201);
  return {
    thekedarId: thekedar.body.thekedarId as string,
    deviceId: reg.body.deviceId as string,
    secret: Buffer.from(reg.body.deviceSecret, 'base64'),
  };
}

function signedHeaders(
  device: { thekedarId: string; deviceId: string; secret: Buffer },
  text: string,
) {
  const timestamp = new Date().toISOString();
  return {
    'x-thekedar-id': device.thekedarId,
    'x-device-id': device.deviceId,
    'x-request-timestamp': timestamp,
    // what a client would sign if it signed the text as sent (no canonical form exists)
    'x-signature': hmacHex(device.secret, `${timestamp}.${text}`),
  };
}

describe('input limits (e2e)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => t.close());

  it('item 1: should answer 10,000 nested arrays with 400 json_too_deep on every JSON route, before authentication', async () => {
    for (const [method, path] of JSON_ROUTES) {
      const res = await raw(t, method, path, nested(10_000));
      expect([path, res.status, res.body.code]).toEqual([path, 400, 'json_too_deep']);
      expect(res.body.correlationId).toBe(res.headers.get('x-correlation-id'));
    }
    const ok = await raw(t, 'POST', '/api/validate-challenge', nested(32));
    expect(ok.body.code).not.toBe('json_too_deep');
  });

  it('item 2: should answer a Content-Encoding the body does not have with 400, and an unknown one with 415', async () => {
    for (const [method, path] of JSON_ROUTES) {
      const gzip = await raw(t, method, path, '{"a":1}', { 'content-encoding': 'gzip' });
      const br = await raw(t, method, path, '{"a":1}', { 'content-encoding': 'br' });
      const unknown = await raw(t, method, path, '{"a":1}', { 'content-encoding': 'zstd' });
      expect([path, gzip.status, gzip.body.code]).toEqual([path, 400, 'invalid_content_encoding']);
      expect([path, br.status, br.body.code]).toEqual([path, 400, 'invalid_content_encoding']);
      expect([path, unknown.status, unknown.body.code]).toEqual([
        path,
        415,
        'unsupported_encoding',
      ]);
    }
    const vault = await http(t.baseUrl, 'POST', '/api/v5/vault', {
      rawBody: Buffer.from([0xff, 0xd8, 0xff]),
      headers: { 'content-type': 'image/jpeg', 'content-encoding': 'gzip' },
    });
    expect([vault.status, vault.body.code]).toEqual([415, 'unsupported_encoding']);
    // a body that really is gzip is decoded (within the size limit) and judged as usual
    const real = await raw(t, 'POST', '/api/v5/sites', gzipSync('{"name":"x"}'), {
      'content-encoding': 'gzip',
      'x-api-key': t.keys.admin,
    });
    expect([real.status, real.body.code]).toEqual([400, 'validation_failed']);
  });

  it('item 3: should answer a site without geo, with geo: [] or geo: null with 400 validation_failed naming geo', async () => {
    for (const geo of [undefined, [], null, 'x', { lat: 'a', lng: 1 }]) {
      const res = await http(t.baseUrl, 'POST', '/api/v5/sites', {
        key: t.keys.admin,
        body: { name: 'No geo', geo, radiusM: 100 },
      });
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('validation_failed');
      expect(res.body.errors.map((e: { field: string }) => e.field.split('.')[0])).toContain('geo');
    }
    const reg = await http(t.baseUrl, 'POST', '/api/v5/device/register', {
      body: { enrollmentCode: 'K7QF-3M9X-PA2D-8RWN' },
    });
    expect([reg.status, reg.body.code]).toEqual([400, 'validation_failed']);
  });

  it('item 4: should answer the thekedar-signed worker route 400 for 1e400, a lone surrogate or 100 levels, never 500', async () => {
    const device = await thekedarDevice(t);
    const cases: [string, string][] = [
      ['{"name":"A","phone":"+91 90000 00010","siteIds":[],"n":1e400}', 'json_number_out_of_range'],
      ['{"name":"\\ud800","phone":"+91 90000 00010","siteIds":[]}', 'json_lone_surrogate'],
      [`{"name":"A","x":${nested(100)}}`, 'json_too_deep'],
      ['{"name":"A","name":"B"}', 'json_duplicate_key'],
      ['{"name":"A","phone":"+91 90000 00010","siteIds":[],"__proto__":{}}', 'json_reserved_key'],
      [`{"name":"${'a'.repeat(70_000)}"}`, 'json_string_too_long'],
    ];
    for (const [text, code] of cases) {
      const res = await raw(t, 'POST', '/api/v5/workers', text, signedHeaders(device, text));
      expect([res.status, res.body.code]).toEqual([400, code]);
    }
  });

  it('item 8: should refuse a signed sync packet whose payload repeats a key (no last-wins)', async () => {
    const phone = await enrollPhone(t.baseUrl, t.keys.admin);
    const packet = signPacket(phone);
    const json = JSON.stringify({ packets: [packet] });
    // the same packet with `type` given twice: a parser that keeps the last value would accept it
    const twice = json.replace('"type":"check_in"', '"type":"check_out","type":"check_in"');
    expect(twice).not.toBe(json);
    const res = await raw(t, 'POST', '/api/v5/sync', twice, {
      authorization: `Bearer ${phone.token}`,
    });
    expect([res.status, res.body.code]).toEqual([400, 'json_duplicate_key']);
    const fine = await raw(t, 'POST', '/api/v5/sync', json, {
      authorization: `Bearer ${phone.token}`,
    });
    expect([fine.status, fine.body.accepted]).toEqual([200, 1]);
    expect(canonicalJson(packet.payload)).toContain('"type":"check_in"');
  });

  it('should read a sync body past 64 KiB as a small one: the same refusals, and its packets accepted', async () => {
    // a body this large is read from its bytes, never made one string (parseJsonBody)
    const phone = await enrollPhone(t.baseUrl, t.keys.admin);
    const packets = Array.from({ length: 200 }, () => signPacket(phone));
    const json = JSON.stringify({ packets });
    expect(json.length).toBeGreaterThan(64 << 10);
    const auth = { authorization: `Bearer ${phone.token}` };
    const last = json.lastIndexOf('"type":"check_in"');
    const twice = `${json.slice(0, last)}"type":"check_out",${json.slice(last)}`;
    const repeated = await raw(t, 'POST', '/api/v5/sync', twice, auth);
    expect([repeated.status, repeated.body.code]).toEqual([400, 'json_duplicate_key']);
    // the same body with two bytes that are not UTF-8 before the last packet's type
    const bytes = Buffer.from(json);
    const notUtf8 = Buffer.concat([
      bytes.subarray(0, last),
      Buffer.from([0xc3, 0x28]),
      bytes.subarray(last),
    ]);
    const bad = await raw(t, 'POST', '/api/v5/sync', notUtf8, auth);
    expect([bad.status, bad.body.code]).toEqual([400, 'invalid_json']);
    const fine = await raw(t, 'POST', '/api/v5/sync', json, auth);
    expect([fine.status, fine.body.accepted, fine.body.results.length]).toEqual([200, 200, 200]);
  });

  it('should refuse a body that is not UTF-8 and a member count past the limit', async () => {
    const bad = await raw(t, 'POST', '/auth', Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x7d]));
    expect([bad.status, bad.body.code]).toEqual([400, 'invalid_json']);
    const members = Array.from({ length: 20_001 }, (_, i) => `"k${i}":0`).join(',');
    const many = await raw(t, 'POST', '/auth', `{${members}}`);
    expect([many.status, many.body.code]).toEqual([400, 'json_too_many_keys']);
  });
});

describe('signed-body guard with a looser JSON depth (e2e)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ JSON_MAX_DEPTH: '200' });
  });
  afterAll(async () => t.close());

  it('item 4: should turn a body with no RFC 8785 form into 401 invalid_signature in the guard, never 500', async () => {
    const device = await thekedarDevice(t);
    const text = `{"name":"A","x":${nested(100)}}`;
    const res = await raw(t, 'POST', '/api/v5/workers', text, signedHeaders(device, text));
    expect([res.status, res.body.code]).toEqual([401, 'invalid_signature']);
  });
});
