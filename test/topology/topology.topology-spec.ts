import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { jpegBytes } from '../support/image-bytes';
import { TestKiosk } from '../support/kiosk';
import { connectDevice, openSession } from '../support/pairing';
import { http, TestApp } from '../support/test-app';
import { enrollPhone, Phone, signPacket, syncBatch } from '../support/worker-client';
import { TestSocket } from '../support/ws-client';
import {
  composeDocument,
  composeEnvironment,
  composeReplicas,
  interpolate,
  ROOT,
} from './support/compose';
import { run } from './support/processes';
import { rawRequest } from './support/raw-http';
import { COMPOSE_PROXY_ADDRESS, LOCAL_PROXY_ADDRESS, Topology } from './support/stack';

const PLATFORM_ID = 'PLT_topology0001';
const MIB = 1024 * 1024;

/**
 * docker-compose.yml as a tested fact (issue 11): MongoDB (test server), Redis, two API
 * replicas in production mode and nginx running deploy/nginx.conf, all on free local ports.
 */
describe('the production topology: two replicas behind nginx, MongoDB, Redis', () => {
  let stack: Topology;
  /** A replica or the proxy as the shared test helpers see an app: a base URL and the keys. */
  let a: TestApp;
  let b: TestApp;
  let proxy: TestApp;

  beforeAll(async () => {
    stack = new Topology();
    try {
      await stack.start();
    } catch (error) {
      const logs = stack.logs();
      await stack.stop();
      throw new Error(`${(error as Error).message}\n${logs}`);
    }
    const target = (baseUrl: string) =>
      ({ baseUrl, wsUrl: baseUrl.replace(/^http/, 'ws'), keys: stack.keys }) as TestApp;
    [a, b] = stack.replicas.map((r) => target(r.baseUrl));
    proxy = target(stack.proxyUrl);
  }, 240_000);

  afterAll(async () => {
    await stack?.stop();
  });

  it('should pass nginx -t on the shipped config with only its addresses substituted', () => {
    expect(stack.nginx.testOutput).toContain('syntax is ok');
    expect(stack.nginx.testOutput).toContain('test is successful');
  });

  it('should run every replica with every setting compose gives it, in production, on MongoDB and Redis', async () => {
    const compose = composeEnvironment('api');
    expect(stack.replicas).toHaveLength(composeReplicas('api'));
    expect(stack.replicas).toHaveLength(2);
    for (const env of stack.replicaEnv) {
      expect(Object.keys(env)).toEqual(expect.arrayContaining(Object.keys(compose)));
      // nginx's fixed address on the compose network, here the loopback address nginx uses
      expect(interpolate(compose.TRUST_PROXY, stack.dotenv)).toBe(COMPOSE_PROXY_ADDRESS);
      expect(env).toMatchObject({ NODE_ENV: 'production', TRUST_PROXY: LOCAL_PROXY_ADDRESS });
    }
    for (const target of [a, b, proxy]) {
      const health = await http(target.baseUrl, 'GET', '/health', { key: stack.keys.admin });
      expect(health.status).toBe(200);
      expect(health.body.info).toMatchObject({
        store: { status: 'up', driver: 'mongo' },
        redis: { status: 'up' },
        disk: { status: 'up' },
      });
    }
    // through the proxy, anyone learns the status and nothing of the deployment
    expect(await http(proxy.baseUrl, 'GET', '/health')).toMatchObject({
      status: 200,
      body: { status: 'ok' },
    });
    expect(Object.keys((await http(proxy.baseUrl, 'GET', '/health')).body)).toEqual(['status']);
    // metrics are scraped from each replica inside the network, not through the public proxy
    for (const replica of stack.replicas) {
      expect((await http(replica.baseUrl, 'GET', '/metrics')).status).toBe(200);
    }
    // compose's healthcheck for redis, against ours
    const ping = await run('redis-cli', ['-u', stack.replicaEnv[0].REDIS_URL, 'ping']);
    expect(ping.output.trim()).toBe('PONG');
    // and for the replicas (the CMD form's command, run with the replica's environment)
    const [kind, command, ...args] = composeDocument().services.api.healthcheck!.test;
    expect(kind).toBe('CMD');
    for (const env of stack.replicaEnv) {
      const check = await run(command, args, { env: { PATH: process.env.PATH, ...env } });
      expect([env.PORT, check.code, check.output]).toEqual([env.PORT, 0, '']);
    }
    for (const replica of stack.replicas) {
      expect(replica.service.logs()).toContain('store: mongo; relay bus: redis');
      // production generates nothing: every secret came from .env
      expect(replica.service.logs()).not.toContain('secrets.json');
    }
  });

  it('should refuse in nginx itself every spelling of /metrics that express would route to it', async () => {
    const { hostname, port } = new URL(stack.proxyUrl);
    const refusals: unknown[] = [];
    for (const method of ['GET', 'HEAD']) {
      for (const target of [...METRICS_SPELLINGS, `http://${hostname}:${port}/Metrics`]) {
        const res = await rawRequest(hostname, Number(port), method, target);
        // nginx's own JSON 404 (its correlation id is nginx's $request_id, 32 hex digits), not
        // the API's (a UUID) nor its metrics
        refusals.push([
          method,
          target,
          res.status,
          res.headers['content-type'],
          res.headers['x-correlation-id'],
        ]);
        expect(res.body).not.toContain('mdai_');
      }
    }
    expect(refusals).toEqual(
      refusals.map((r) => [
        ...(r as unknown[]).slice(0, 2),
        404,
        'application/json',
        expect.stringMatching(/^[0-9a-f]{32}$/),
      ]),
    );
    // the replicas answer the exact path; nginx passes a neighbour of it on to them
    const near = await rawRequest(hostname, Number(port), 'GET', '/metricsx');
    expect([near.status, near.headers['content-type'], near.headers['x-correlation-id']]).toEqual([
      404,
      expect.stringContaining('application/json'),
      expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-/),
    ]);
  });

  it('should not let an encoded slash choose the long route class for another route', async () => {
    const { hostname, port } = new URL(stack.proxyUrl);
    const answers: unknown[] = [];
    for (const target of [
      // express routes these as one site's GET or a ledger's other route: nginx refuses them
      '/api/v5/sites/x%2Fpayroll',
      '/api/v5/sites/x%2fpayroll.csv?from=1',
      '/api/v5/ledger/x%2Fexport',
      // the long routes themselves go on to the replicas (the API's 401: no key)
      '/api/v5/sites/x/payroll',
      '/api/v5/ledger/x/verify?y=1',
    ]) {
      const res = await rawRequest(hostname, Number(port), 'GET', target);
      answers.push([target, res.status, res.headers['x-correlation-id']]);
    }
    const nginx = expect.stringMatching(/^[0-9a-f]{32}$/);
    const api = expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-/);
    expect(answers).toEqual([
      ['/api/v5/sites/x%2Fpayroll', 404, nginx],
      ['/api/v5/sites/x%2fpayroll.csv?from=1', 404, nginx],
      ['/api/v5/ledger/x%2Fexport', 404, nginx],
      ['/api/v5/sites/x/payroll', 401, api],
      ['/api/v5/ledger/x/verify?y=1', 401, api],
    ]);
  });

  it('should run `npm run demo` through nginx to the end, spread over both replicas', async () => {
    const before = stack.replicas.map((r) => requestLines(r.service.logs()));
    const demo = await run('npm', ['run', 'demo'], {
      cwd: ROOT,
      env: {
        ...process.env,
        MDAI_URL: stack.proxyUrl,
        DEMO_UPSTREAM_PORT: String(stack.upstreamPort),
        UPSTREAM_API_KEY: stack.dotenv.UPSTREAM_API_KEY,
        ADMIN_API_KEYS: stack.dotenv.ADMIN_API_KEYS,
        PROVISIONER_API_KEYS: stack.dotenv.PROVISIONER_API_KEYS,
        AUDITOR_API_KEYS: stack.dotenv.AUDITOR_API_KEYS,
        MOBILE_API_KEYS: stack.dotenv.MOBILE_API_KEYS,
        HARDWARE_API_KEYS: stack.dotenv.HARDWARE_API_KEYS,
      },
    });
    if (demo.code !== 0) throw new Error(`demo failed (${demo.code}):\n${demo.output}`);
    expect(demo.output).toMatch(/demo finished: \d+ steps/);
    // it used the stub compose runs, not one of its own
    expect(demo.output).not.toContain('started the upstream stub');
    // nginx balanced the demo's requests over both replicas
    stack.replicas.forEach((r, i) => {
      expect(requestLines(r.service.logs())).toBeGreaterThan(before[i]);
    });
  }, 180_000);

  it('should pair a phone on replica A with a kiosk on replica B (new protocol), face result included', async () => {
    const kiosk = await TestKiosk.registered(proxy, `TEE-TOPO-${Date.now()}`);
    for (const [phoneSide, kioskSide] of [
      [a, b],
      [b, a],
    ]) {
      const session = await openSession(phoneSide, PLATFORM_ID);
      const mobile = await TestSocket.open(
        `${phoneSide.wsUrl}/ws/mobile?token=${session.mobileToken}`,
      );
      await mobile.next('joined');
      const device = await connectDevice(kioskSide, kiosk, session);
      await device.next('joined');
      device.send({ type: 'to_mobile', data: { step: 'first frame right after joined' } });
      expect((await mobile.next('from_device')).data).toEqual({
        step: 'first frame right after joined',
      });
      await mobile.next('status');
      mobile.send({ type: 'to_device', data: { note: `user ${PLATFORM_ID}` } });
      const relayed = await device.next('from_mobile');
      expect(JSON.stringify(relayed)).not.toContain(PLATFORM_ID);
      device.send({ type: 'submit_result', image: fakeJpeg().toString('base64'), passes: 3 });
      const result = await mobile.next('result', 20_000);
      expect(result).toMatchObject({ status: 'success', status_code: 200 });
      expect(await device.next('result')).not.toHaveProperty('platform_id');
      expect([...mobile.frames, ...device.frames].filter((f) => f.type === 'error')).toEqual([]);
      mobile.close();
      device.close();
    }
  });

  it('should pair legacy hardware on one replica with the app on the other, first frame right after joined', async () => {
    const refusals: unknown[] = [];
    for (let i = 0; i < 10; i++) {
      const [first, second] = i % 2 === 0 ? [a, b] : [b, a];
      const auth = await http(first.baseUrl, 'POST', '/auth', {
        body: { api_key: stack.keys.hardware },
      });
      expect(auth.status).toBe(200);
      expect(auth.body.expires_in).toBe(Number(stack.dotenv.SESSION_TTL_SECONDS));
      const hardware = await TestSocket.open(`${first.wsUrl}/ws/hardware?token=${auth.body.token}`);
      await hardware.next('joined');
      const app = await TestSocket.open(`${second.wsUrl}/ws/app?token=${auth.body.token}`);
      await app.next('joined');
      app.send({ type: 'to_hardware', data: { message: `hello ${i}` } });
      expect((await hardware.next('from_app')).data).toEqual({ message: `hello ${i}` });
      hardware.send({ type: 'to_app', data: { message: `back ${i}` } });
      expect((await app.next('from_hardware')).data).toEqual({ message: `back ${i}` });
      refusals.push(...[...app.frames, ...hardware.frames].filter((f) => f.type === 'error'));
      hardware.close();
      app.close();
      await Promise.all([hardware.waitClose(), app.waitClose()]);
    }
    expect(refusals).toEqual([]);
  });

  it('should read back on replica B a vault file uploaded on replica A (shared volume, shared store)', async () => {
    const image = jpegBytes(3 * MIB + 17);
    const stored = await http(a.baseUrl, 'POST', '/api/v5/vault', {
      key: stack.keys.admin,
      rawBody: image,
      headers: { 'content-type': 'image/jpeg' },
    });
    expect(stored.status).toBe(201);
    const read = await fetch(`${b.baseUrl}/api/v5/vault/${stored.body.fileId}`, {
      headers: { 'x-api-key': stack.keys.auditor, 'x-access-purpose': 'topology check' },
    });
    expect(read.status).toBe(200);
    expect(
      createHash('sha256')
        .update(Buffer.from(await read.arrayBuffer()))
        .digest('hex'),
    ).toBe(stored.body.sha256);
    const verify = await http(b.baseUrl, 'GET', '/api/v5/vault/audit/verify', {
      key: stack.keys.auditor,
    });
    expect(verify.body).toMatchObject({ ok: true });
  });

  it('should take uploads above nginx default 1 MiB through the proxy (client_max_body_size) and audit the client address, not a forged one', async () => {
    const image = jpegBytes(5 * MIB);
    const stored = await http(proxy.baseUrl, 'POST', '/api/v5/vault', {
      key: stack.keys.admin,
      rawBody: image,
      headers: { 'content-type': 'image/jpeg', 'x-forwarded-for': '203.0.113.66' },
    });
    expect(stored.status).toBe(201);
    const audit = await http(
      proxy.baseUrl,
      'GET',
      `/api/v5/vault/audit?fileId=${stored.body.fileId}`,
      {
        key: stack.keys.auditor,
      },
    );
    // TRUST_PROXY is nginx: the address nginx saw (this test, on loopback), never the forged header
    expect(audit.body).toHaveLength(1);
    expect(audit.body[0].ip).toMatch(/^(::ffff:)?127\.0\.0\.1$/);
  });

  /**
   * Stores a file from `address` through `url` (nginx, or a replica directly) with a forged
   * X-Forwarded-For; the addresses its audit record holds.
   */
  const auditedAddressOfStore = async (
    address: string,
    url: string,
    forged: string,
  ): Promise<string[]> => {
    const { hostname, port } = new URL(url);
    const stored = await fromAddress(
      address,
      hostname,
      Number(port),
      'POST',
      '/api/v5/vault',
      { 'x-api-key': stack.keys.admin, 'content-type': 'image/jpeg', 'x-forwarded-for': forged },
      jpegBytes(1024),
    );
    expect(stored.status).toBe(201);
    const fileId = (JSON.parse(stored.body) as { fileId: string }).fileId;
    const audit = await http(proxy.baseUrl, 'GET', `/api/v5/vault/audit?fileId=${fileId}`, {
      key: stack.keys.auditor,
    });
    return audit.body.map((r: { ip: string }) => r.ip);
  };

  it("should see each client's own address behind nginx (TRUST_PROXY as compose sets it): per-IP limits and audits, forged X-Forwarded-For ignored", async () => {
    const { hostname, port } = new URL(stack.proxyUrl);
    const limit = Number(stack.replicaEnv[0].RATE_LIMIT_PER_IP ?? 600);
    expect(limit).toBeGreaterThan(0);
    // one client (127.0.0.2) uses up its limit, each request forging another address
    const statuses: number[] = [];
    for (let i = 0; i <= limit && !statuses.includes(429); i++) {
      const res = await fromAddress('127.0.0.2', hostname, Number(port), 'GET', '/health', {
        'x-forwarded-for': `198.51.100.${i % 250}, 10.0.${i % 250}.1`,
      });
      statuses.push(res.status);
    }
    expect(statuses.filter((s) => s === 429)).toHaveLength(1);
    expect(statuses.slice(0, limit).every((s) => s === 200)).toBe(true);
    // another client on the same host, behind the same nginx, is not limited by it
    const other = await fromAddress('127.0.0.3', hostname, Number(port), 'GET', '/health', {});
    const again = await fromAddress('127.0.0.2', hostname, Number(port), 'GET', '/health', {
      'x-forwarded-for': '203.0.113.200',
    });
    expect([other.status, again.status]).toEqual([200, 429]);
    // the vault audits the client's address, neither nginx's (127.0.0.10) nor a forged one
    expect(await auditedAddressOfStore('127.0.0.3', stack.proxyUrl, '203.0.113.66')).toEqual([
      expect.stringMatching(/^(::ffff:)?127\.0\.0\.3$/),
    ]);
  });

  it('should believe X-Forwarded-For from nginx only: a peer that reaches a replica directly is audited at its own address', async () => {
    // what another container on the compose network could do: skip nginx, forge the header
    // (a hop count as TRUST_PROXY would believe it)
    expect(await auditedAddressOfStore('127.0.0.4', a.baseUrl, '203.0.113.77')).toEqual([
      expect.stringMatching(/^(::ffff:)?127\.0\.0\.4$/),
    ]);
  });

  it('should chain concurrent syncs to one site through both replicas into one verified ledger', async () => {
    const first = await enrollPhone(a.baseUrl, stack.keys.admin, undefined, {
      simHash: 'topo-sim-0',
    });
    const phones: Phone[] = [first];
    for (let i = 1; i < 4; i++) {
      const target = i % 2 === 0 ? a : b;
      phones.push(
        await enrollPhone(target.baseUrl, stack.keys.admin, first.siteId, {
          simHash: `topo-sim-${i}`,
        }),
      );
    }
    const base = Date.now() - 4 * 60_000;
    const batches = phones.flatMap((phone, p) =>
      [0, 1].map((half) => ({
        phone,
        target: (p + half) % 2 === 0 ? a : b,
        packets: [0, 1, 2].map((k) =>
          signPacket(phone, {
            type: k % 2 === 0 ? 'check_in' : 'check_out',
            timestamp: new Date(base + (half * 3 + k) * 30_000).toISOString(),
          }),
        ),
      })),
    );
    const responses = await Promise.all(
      batches.map((batch) => syncBatch(batch.target.baseUrl, batch.phone.token, batch.packets)),
    );
    expect(responses.map((r) => [r.status, r.body.accepted])).toEqual(batches.map(() => [200, 3]));
    for (const target of [a, b]) {
      const verify = await http(target.baseUrl, 'GET', `/api/v5/ledger/${first.siteId}/verify`, {
        key: stack.keys.admin,
      });
      expect(verify.body).toMatchObject({ ok: true, length: 24 });
    }
    const exported = await fetch(`${b.baseUrl}/api/v5/ledger/${first.siteId}/export`, {
      headers: { 'x-api-key': stack.keys.auditor },
    });
    const seqs = (await exported.text())
      .split('\n')
      .filter((line) => line.length > 0)
      .map((line) => (JSON.parse(line) as { seq: number }).seq);
    expect(seqs).toEqual(Array.from({ length: 24 }, (_, i) => i + 1));
  });

  it('should let a kiosk follow the QR ws_device_url verbatim, and an admin the challenge qr_url', async () => {
    const kiosk = await TestKiosk.registered(proxy, `TEE-QR-${Date.now()}`);
    const session = await openSession(a, PLATFORM_ID);
    // PUBLIC_URL: the proxy's address, whichever replica answered
    expect(session.body.qr_payload.ws_device_url).toBe(`${proxy.wsUrl}/ws/device`);
    const mobile = await TestSocket.open(`${b.wsUrl}/ws/mobile?token=${session.mobileToken}`);
    await mobile.next('joined');
    const device = await TestSocket.open(
      `${session.body.qr_payload.ws_device_url}?token=${session.deviceToken}`,
    );
    const { nonce } = await device.next('challenge');
    device.send({
      type: 'auth',
      session_id: session.sessionId,
      device_id: kiosk.deviceId,
      signature: kiosk.signAuth(session.sessionId, nonce),
    });
    await device.next('joined');
    await mobile.next('status');
    mobile.send({ type: 'to_device', data: { hello: 'through nginx' } });
    expect((await device.next('from_mobile')).data).toEqual({ hello: 'through nginx' });
    mobile.close();
    device.close();

    const issued = await http(b.baseUrl, 'POST', '/api/generate-challenge', {
      key: stack.keys.admin,
      body: { device_id: kiosk.deviceId, wifi_ssid: 'Site-9', wifi_password: 'topology-pass' },
    });
    expect(issued.body.qr_url).toMatch(new RegExp(`^${stack.proxyUrl}/api/challenges/`));
    const png = await fetch(issued.body.qr_url, { headers: { 'x-api-key': stack.keys.admin } });
    expect([png.status, png.headers.get('content-type')]).toEqual([200, 'image/png']);
  });
});

/**
 * Spellings of /metrics a client can send: express routes the path without regard to case and
 * with or without one trailing slash (and ignores the query string); nginx decodes %XX, merges
 * slashes and resolves `.` and `..` before it picks a location, then passes the URI on as sent.
 */
const METRICS_SPELLINGS = [
  '/metrics',
  '/Metrics',
  '/METRICS',
  '/mEtRiCs',
  '/metrics/',
  '/METRICS/',
  '/metrics?x=1',
  '/Metrics/?x=1',
  '//metrics',
  '/metrics//',
  '/%6detrics',
  '/%4Detrics',
  '/metric%73/',
  '/metrics%2F',
  '/./metrics',
  '/x/../Metrics',
  '/metrics/x',
];

/** One request sent from `localAddress` (a loopback address of its own: another client). */
function fromAddress(
  localAddress: string,
  host: string,
  port: number,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: Buffer,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host, port, method, path, headers, localAddress }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
      );
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** How many HTTP requests a replica logged (pino-http lines carry `"req":`). */
function requestLines(logs: string): number {
  return logs.split('\n').filter((line) => line.includes('"req":')).length;
}

function fakeJpeg(): Buffer {
  const bytes = Buffer.alloc(2048, 0x42);
  bytes.set([0xff, 0xd8, 0xff], 0);
  return bytes;
}
