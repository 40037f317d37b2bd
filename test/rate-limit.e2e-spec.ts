import { randomUUID } from 'node:crypto';
import { MetricsRegistry } from '@app/common';
import Redis from 'ioredis';
import { freePort, PrivateRedis } from './support/processes';
import { http, startTestApp, TestApp } from './support/test-app';

/** Item 11 of issue 12: per-IP and per-credential limits, 429 with Retry-After, Redis-backed. */

function expectLimited(res: { status: number; headers: Headers; body: any }) {
  expect([res.status, res.body.code]).toEqual([429, 'rate_limited']);
  const retryAfter = Number(res.headers.get('retry-after'));
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(60);
  expect(res.body.message).toContain(`retry after ${retryAfter} s`);
}

describe('rate limits in one process (e2e)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ RATE_LIMIT_PER_IP: '8', RATE_LIMIT_PER_CREDENTIAL: '3' });
  });
  afterAll(async () => t.close());

  it('item 11: should answer 429 with Retry-After per credential, then per IP on the public routes too', async () => {
    // both windows open with the first request: 60 s from then, counted in whole seconds left
    const opened = Date.now();
    for (let i = 0; i < 3; i++) {
      const res = await http(t.baseUrl, 'GET', '/api/kiosks', { key: t.keys.admin });
      // the seconds left as the server counts them (rounded up): 60 within the window's first
      // second, less once the requests took longer (a loaded machine)
      const left = 60 - Math.floor((Date.now() - opened) / 1000);
      expect(res.status).toBe(200);
      // the counters' headers, per throttler, as @nestjs/throttler names and fills them
      const rateHeaders = Object.fromEntries(
        [...res.headers].filter(([name]) => name.startsWith('x-ratelimit-')),
      );
      expect(rateHeaders).toEqual({
        'x-ratelimit-limit-ip': '8',
        'x-ratelimit-remaining-ip': String(7 - i),
        'x-ratelimit-reset-ip': expect.any(String),
        'x-ratelimit-limit-credential': '3',
        'x-ratelimit-remaining-credential': String(2 - i),
        'x-ratelimit-reset-credential': expect.any(String),
      });
      for (const reset of ['x-ratelimit-reset-ip', 'x-ratelimit-reset-credential']) {
        expect(rateHeaders[reset]).toMatch(/^\d+$/);
        expect(Number(rateHeaders[reset])).toBeGreaterThanOrEqual(left);
        expect(Number(rateHeaders[reset])).toBeLessThanOrEqual(60);
      }
    }
    const limited = await http(t.baseUrl, 'GET', '/api/kiosks', { key: t.keys.admin });
    expectLimited(limited);
    expect(limited.headers.get('retry-after-credential')).toBe(limited.headers.get('retry-after'));
    // the 429 names the limit that tripped: its own counter headers, and the message
    expect(limited.headers.get('x-ratelimit-limit-credential')).toBe('3');
    expect(limited.headers.get('x-ratelimit-remaining-credential')).toBe('0');
    expect(limited.body.message).toContain('for one credential (RATE_LIMIT_PER_CREDENTIAL)');
    // another credential from the same address still has its own allowance (IP: 5 of 8 so far)
    expect((await http(t.baseUrl, 'GET', '/api/kiosks', { key: t.keys.auditor })).status).toBe(403);
    // unknown keys are limited too, before they are checked
    const guess = { key: 'mdai_adm_guess0000000000000000' };
    expect((await http(t.baseUrl, 'GET', '/api/kiosks', guess)).status).toBe(401);
    const body = { bson_id: '665f1c2e8b3e4a0012345678', decrypted_challenge: 'AAAA' };
    // requests 7 and 8 of this address: still allowed
    for (let i = 0; i < 2; i++) {
      const allowed = await http(t.baseUrl, 'POST', '/api/validate-challenge', { body });
      expect(allowed.status).not.toBe(429);
    }
    const byIp = await http(t.baseUrl, 'POST', '/api/validate-challenge', { body });
    expectLimited(byIp);
    expect(byIp.headers.get('x-ratelimit-remaining-ip')).toBe('0');
    expect(byIp.body.message).toContain('from one address (RATE_LIMIT_PER_IP)');
    expectLimited(await http(t.baseUrl, 'POST', '/auth', { body: { api_key: 'x' } }));
    expectLimited(await http(t.baseUrl, 'GET', '/health'));
    // /metrics is limited like everything else: read the registry directly
    const metrics = await t.app.get(MetricsRegistry).metrics();
    expect(metrics).toMatch(/mdai_http_errors_total\{[^}]*status="429",code="rate_limited"\} \d+/);
  });
});

describe("the phones' shared mobile app key (e2e)", () => {
  let t: TestApp;
  beforeAll(async () => {
    // loopback is a trusted proxy by default: X-Forwarded-For gives each request its address
    t = await startTestApp({ RATE_LIMIT_PER_IP: '100', RATE_LIMIT_PER_CREDENTIAL: '3' });
  });
  afterAll(async () => t.close());

  let seq = 0;
  const pairFrom = (ip: string) =>
    http(t.baseUrl, 'POST', '/api/auth/mobile', {
      key: t.keys.mobile,
      body: { user_id: 'u1', platform_id: `PLT_sharedKeyUser${String(++seq).padStart(5, '0')}` },
      headers: { 'x-forwarded-for': ip },
    });

  it('should count the key per phone address: one looping phone does not stop pairing for the fleet', async () => {
    // one phone uses up its allowance under the key ...
    for (let i = 0; i < 3; i++) expect((await pairFrom('198.51.100.20')).status).toBe(201);
    const limited = await pairFrom('198.51.100.20');
    expectLimited(limited);
    expect(limited.headers.get('x-ratelimit-remaining-credential')).toBe('0');
    expect(limited.body.message).toContain('for the mobile app key from one address');
    // ... and the fleet's other phones, under the same key, still pair
    for (let phone = 1; phone <= 6; phone++) {
      expect((await pairFrom(`198.51.100.${20 + phone}`)).status).toBe(201);
    }
  });

  it('should keep one counter for a key that is no phone app key, wherever it comes from', async () => {
    for (let i = 0; i < 3; i++) {
      const res = await http(t.baseUrl, 'GET', '/api/kiosks', {
        key: t.keys.admin,
        headers: { 'x-forwarded-for': `203.0.113.${i + 1}` },
      });
      expect(res.status).toBe(200);
    }
    const res = await http(t.baseUrl, 'GET', '/api/kiosks', {
      key: t.keys.admin,
      headers: { 'x-forwarded-for': '203.0.113.9' },
    });
    expectLimited(res);
  });
});

describe("a bearer token's limit (e2e)", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ RATE_LIMIT_PER_IP: '100', RATE_LIMIT_PER_CREDENTIAL: '3' });
  });
  afterAll(async () => t.close());

  it('should keep one counter for a token however its scheme is spelled, and whatever key comes beside it', async () => {
    // any token: the limit is counted before the token is checked (the answer is 401 until then)
    const token = 'eyJhbGciOiJFZERTQSJ9.e30.c2ln';
    const spellings = [`Bearer ${token}`, `bearer ${token}`, `BEARER   ${token}`];
    for (const [i, authorization] of spellings.entries()) {
      const res = await http(t.baseUrl, 'POST', '/api/v5/sync', {
        body: { packets: [] },
        headers: {
          authorization,
          'x-api-key': `junk-${i}`,
          'x-forwarded-for': `203.0.113.${i + 1}`,
        },
      });
      expect(res.status).not.toBe(429);
    }
    const res = await http(t.baseUrl, 'POST', '/api/v5/sync', {
      body: { packets: [] },
      headers: {
        authorization: `bEaReR  ${token}`,
        'x-api-key': 'junk-9',
        'x-forwarded-for': '203.0.113.9',
      },
    });
    expectLimited(res);
  });
});

describe('a key beside a bearer token (e2e)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ RATE_LIMIT_PER_IP: '100', RATE_LIMIT_PER_CREDENTIAL: '3' });
  });
  afterAll(async () => t.close());

  it('should count a token on one counter whether a key comes beside it or not (not twice the limit)', async () => {
    const sync = (token: string, key?: string) =>
      http(t.baseUrl, 'POST', '/api/v5/sync', {
        body: { packets: [] },
        headers: {
          authorization: `Bearer ${token}`,
          ...(key ? { 'x-api-key': key } : {}),
          'x-forwarded-for': '203.0.113.40',
        },
      });
    const token = 'eyJhbGciOiJFZERTQSJ9.e30.b25l';
    expect((await sync(token)).status).not.toBe(429);
    expect((await sync(token)).status).not.toBe(429);
    expect((await sync(token, t.keys.auditor)).status).not.toBe(429);
    expectLimited(await sync(token, t.keys.auditor));
  });

  it("should count phones that send the app's key beside their tokens by their tokens (phones behind one address)", async () => {
    const sync = (token: string) =>
      http(t.baseUrl, 'POST', '/api/v5/sync', {
        body: { packets: [] },
        headers: {
          authorization: `Bearer ${token}`,
          'x-api-key': t.keys.mobile,
          'x-forwarded-for': '203.0.113.50',
        },
      });
    for (const phone of ['cGhvbmVh', 'cGhvbmVi']) {
      for (let i = 0; i < 3; i++) {
        expect((await sync(`eyJhbGciOiJFZERTQSJ9.e30.${phone}`)).status).not.toBe(429);
      }
    }
  });

  it('should hold a key to its limit whatever token comes beside it', async () => {
    for (let i = 0; i < 3; i++) {
      const res = await http(t.baseUrl, 'GET', '/api/kiosks', {
        key: t.keys.admin,
        headers: { authorization: `Bearer junk${i}`, 'x-forwarded-for': `203.0.113.${i + 1}` },
      });
      expect(res.status).toBe(200);
    }
    const res = await http(t.baseUrl, 'GET', '/api/kiosks', {
      key: t.keys.admin,
      headers: { authorization: 'Bearer junk9', 'x-forwarded-for': '203.0.113.9' },
    });
    expectLimited(res);
  });
});

describe("a signing device's limit (e2e)", () => {
  let t: TestApp;
  beforeAll(async () => {
    // loopback is a trusted proxy by default: X-Forwarded-For gives each request its address
    t = await startTestApp({ RATE_LIMIT_PER_IP: '100', RATE_LIMIT_PER_CREDENTIAL: '3' });
  });
  afterAll(async () => t.close());

  const signedFrom = (ip: string, deviceId: string) =>
    http(t.baseUrl, 'POST', '/api/v5/workers', {
      body: { name: 'Meena', phone: '+91 90000 00010', siteIds: ['665f1c2e8b3e4a0012345678'] },
      headers: {
        'x-forwarded-for': ip,
        'x-thekedar-id': '665f1c2e8b3e4a0012345679',
        'x-device-id': deviceId,
        'x-request-timestamp': new Date().toISOString(),
        'x-signature': '0'.repeat(64),
      },
    });

  it("should not let requests naming a device from another address use up that device's limit", async () => {
    const device = '665f1c2e8b3e4a001234567a';
    // an attacker's address: its own counter for the device runs out
    for (let i = 0; i < 3; i++) expect((await signedFrom('203.0.113.7', device)).status).toBe(401);
    expectLimited(await signedFrom('203.0.113.7', device));
    // the device's own address still has its whole allowance, and then runs out as well
    for (let i = 0; i < 3; i++) expect((await signedFrom('198.51.100.4', device)).status).toBe(401);
    expectLimited(await signedFrom('198.51.100.4', device));
  });
});

describe('rate limits shared through Redis (e2e)', () => {
  const prefix = `mdai:test:${randomUUID()}:`;
  let a: TestApp;
  let b: TestApp;
  beforeAll(async () => {
    const env = {
      REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      RATE_LIMIT_PER_IP: '4',
      RATE_LIMIT_REDIS_PREFIX: prefix,
    };
    a = await startTestApp(env);
    b = await startTestApp(env);
  });
  afterAll(async () => {
    await a.close();
    await b.close();
  });

  it('item 11: should hold one limit across two replicas', async () => {
    for (const t of [a, b, a, b]) {
      expect((await http(t.baseUrl, 'GET', '/api/v5/.well-known/jwks.json')).status).toBe(200);
    }
    expectLimited(await http(a.baseUrl, 'GET', '/api/v5/.well-known/jwks.json'));
    expectLimited(await http(b.baseUrl, 'GET', '/api/v5/.well-known/jwks.json'));
  });
});

describe('rate limits when Redis is down (e2e)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({
      REDIS_URL: `redis://127.0.0.1:${await freePort()}`,
      RATE_LIMIT_PER_IP: '3',
    });
  });
  afterAll(async () => t.close());

  it('item 11: should keep answering (no 5xx) and limit in the process instead', async () => {
    for (let i = 0; i < 3; i++) {
      expect((await http(t.baseUrl, 'GET', '/api/v5/.well-known/jwks.json')).status).toBe(200);
    }
    expectLimited(await http(t.baseUrl, 'GET', '/api/v5/.well-known/jwks.json'));
    expect(t.logs()).toContain('Rate limit counters fall back to this process');
  });
});

/**
 * Redis frozen (a partition: the connection stays up, nothing answers). Requests must go on
 * being answered and limited in the process, and must not each send Redis a command that
 * waits: those would pile up on the connection, and a server that resumes would run every one
 * of them, counting each request twice.
 */
describe('rate limits when Redis is frozen (e2e)', () => {
  let t: TestApp;
  let redis: PrivateRedis;
  beforeAll(async () => {
    redis = await PrivateRedis.start();
    t = await startTestApp({ REDIS_URL: redis.url, RATE_LIMIT_PER_IP: '1000' });
  });
  afterAll(async () => {
    redis.resume();
    await t?.close();
    await redis.kill();
  });

  const scriptCalls = async (): Promise<number> => {
    const client = new Redis(redis.url);
    try {
      const stats = await client.info('commandstats');
      return Number(/cmdstat_eval:calls=(\d+)/.exec(stats)?.[1] ?? 0);
    } finally {
      client.disconnect();
    }
  };

  it('should count in the process, trying Redis again once a second, not once a request', async () => {
    const jwks = () => http(t.baseUrl, 'GET', '/api/v5/.well-known/jwks.json');
    expect((await jwks()).status).toBe(200);
    const before = await scriptCalls();
    redis.freeze();
    const started = Date.now();
    for (let i = 0; i < 40; i++) expect((await jwks()).status).toBe(200);
    const frozenMs = Date.now() - started;
    redis.resume();
    // the commands sent while frozen have run by the time a new connection is answered
    await new Promise((resolve) => setTimeout(resolve, 300));
    const sent = (await scriptCalls()) - before;
    // at most the first try, the ones in flight before it timed out, and one a second after
    expect(sent).toBeLessThanOrEqual(3 + Math.ceil(frozenMs / 1000));
    expect(t.logs()).toContain('Rate limit counters fall back to this process');
  });
});
