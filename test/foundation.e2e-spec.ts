import { spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { AddressInfo, connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import { redactString } from '@app/common';
import { e2eDriver, http, itOnSqliteFile, startTestApp, TestApp } from './support/test-app';

const pem = () =>
  generateKeyPairSync('rsa', { modulusLength: 2048 })
    .publicKey.export({ type: 'spki', format: 'pem' })
    .toString();

describe('foundation (e2e)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => t.close());

  it('should answer /health with the store up, its details to an admin key only', async () => {
    const res = await http(t.baseUrl, 'GET', '/health', { key: t.keys.admin });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      status: 'ok',
      info: { store: { status: 'up', driver: e2eDriver }, disk: { status: 'up' } },
    });
    // anyone (a load balancer, compose's healthcheck): the status and nothing of the deployment
    const open = await http(t.baseUrl, 'GET', '/health');
    expect([open.status, open.body]).toEqual([200, { status: 'ok' }]);
    // a key that is given is checked as on every route
    const auditor = await http(t.baseUrl, 'GET', '/health', { key: t.keys.auditor });
    const unknown = await http(t.baseUrl, 'GET', '/health', { key: 'not-a-key-of-anyone' });
    expect([auditor.status, auditor.body.code, unknown.status, unknown.body.code]).toEqual([
      403,
      'forbidden',
      401,
      'unauthorized',
    ]);
    expect(JSON.stringify([auditor.body, unknown.body])).not.toContain('driver');
  });

  it('should answer an admin route 401 without a key, 401 with an unknown key, 403 with another role, 200 with the admin key', async () => {
    const none = await http(t.baseUrl, 'GET', '/api/kiosks');
    const unknown = await http(t.baseUrl, 'GET', '/api/kiosks', {
      key: 'mdai_adm_notarealkeyatall00000',
    });
    const wrongRole = await http(t.baseUrl, 'GET', '/api/kiosks', { key: t.keys.mobile });
    const admin = await http(t.baseUrl, 'GET', '/api/kiosks', { key: t.keys.admin });
    expect([none.status, unknown.status, wrongRole.status, admin.status]).toEqual([
      401, 401, 403, 200,
    ]);
    expect(none.body).toMatchObject({ statusCode: 401, code: 'unauthorized' });
    expect(wrongRole.body).toMatchObject({ statusCode: 403, code: 'forbidden' });
    expect(typeof none.body.correlationId).toBe('string');
  });

  it('should answer malformed JSON with 400 invalid_json and the error body', async () => {
    const res = await http(t.baseUrl, 'POST', '/api/register-device', {
      key: t.keys.admin,
      rawBody: '{"device_id": ',
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      statusCode: 400,
      code: 'invalid_json',
      message: 'The request body is not valid JSON',
      correlationId: res.headers.get('x-correlation-id'),
    });
  });

  it('should refuse unknown fields and name them', async () => {
    const res = await http(t.baseUrl, 'POST', '/api/register-device', {
      key: t.keys.admin,
      body: { device_id: 'TEE-F-1', public_key: pem(), extra: 1 },
    });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('validation_failed');
    expect(res.body.errors).toEqual([
      { field: 'extra', message: 'property extra should not exist' },
    ]);
  });

  it('should say a missing field is required, a null one must not be null, and a value of the wrong type only that', async () => {
    const res = await http(t.baseUrl, 'POST', '/api/register-device', {
      key: t.keys.provisioner,
      body: { device_id: 42, public_key: null },
    });
    expect([res.status, res.body.code]).toEqual([400, 'validation_failed']);
    expect(res.body.errors).toEqual([
      { field: 'device_id', message: 'must be a string' },
      { field: 'public_key', message: 'must not be null' },
    ]);
    // the value sent is not echoed (the body's random correlation id may hold "42")
    expect(JSON.stringify(res.body.errors)).not.toContain('42');
    const query = await http(t.baseUrl, 'GET', `/api/v5/sites/${'a'.repeat(24)}/payroll?to=x`, {
      key: t.keys.admin,
    });
    expect([query.status, query.body.errors]).toEqual([
      400,
      [
        { field: 'from', message: 'is required' },
        { field: 'to', message: 'must be a calendar day YYYY-MM-DD from 1970-01-01 to 9998-12-31' },
      ],
    ]);
  });

  it('should refuse non-object JSON bodies with a 400', async () => {
    for (const rawBody of ['[]', '"x"', '42', 'null']) {
      const res = await http(t.baseUrl, 'POST', '/api/register-device', {
        key: t.keys.admin,
        rawBody,
        headers: { 'content-type': 'application/json' },
      });
      expect(res.status).toBe(400);
      expect(['validation_failed', 'invalid_json']).toContain(res.body.code);
    }
  });

  it('should answer an oversize body with 413 payload_too_large', async () => {
    const res = await http(t.baseUrl, 'POST', '/api/register-device', {
      key: t.keys.admin,
      body: { device_id: 'TEE-F-2', public_key: 'x'.repeat(2 * 1024 * 1024) },
    });
    expect(res.status).toBe(413);
    expect(res.body.code).toBe('payload_too_large');
  });

  it('should answer unknown routes with 404 in the error body', async () => {
    const res = await http(t.baseUrl, 'GET', '/nope', { key: t.keys.admin });
    expect(res.status).toBe(404);
    expect(res.body.code).toBe('not_found');
  });

  it('should echo a well-formed correlation id and replace a malformed one', async () => {
    const kept = await http(t.baseUrl, 'GET', '/api/kiosks', {
      headers: { 'x-correlation-id': 'trace-123' },
    });
    expect(kept.headers.get('x-correlation-id')).toBe('trace-123');
    expect(kept.body.correlationId).toBe('trace-123');
    const replaced = await http(t.baseUrl, 'GET', '/health', {
      headers: { 'x-correlation-id': 'bad id!' },
    });
    expect(replaced.headers.get('x-correlation-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('should serve OpenAPI at /docs-json and Prometheus metrics at /metrics', async () => {
    const docs = await http(t.baseUrl, 'GET', '/docs-json');
    expect(docs.status).toBe(200);
    expect(docs.body.paths['/api/register-device']).toBeDefined();
    const metrics = await fetch(`${t.baseUrl}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('mdai_http_request_duration_seconds');
  });

  it('should log every metric name /metrics lists as itself, not as a redacted API key', async () => {
    const text = await (await fetch(`${t.baseUrl}/metrics`)).text();
    const names = [...text.matchAll(/^# TYPE (mdai_\w+) /gm)].map((m) => m[1]);
    expect(names).toContain('mdai_fraud_events_unstored_total');
    for (const name of names) expect(redactString(`counted (${name})`)).toBe(`counted (${name})`);
  });

  it('should never log API keys', async () => {
    await http(t.baseUrl, 'GET', '/api/kiosks', { key: t.keys.admin });
    const logs = t.logs();
    expect(logs.length).toBeGreaterThan(0);
    for (const key of Object.values(t.keys)) expect(logs).not.toContain(key);
    expect(logs).not.toContain(t.config.auth.jwtSecret);
  });

  it("should log Nest's wiring lines (modules, routes) at debug, so a start at info shows the operator's lines", () => {
    const lines = (logs: string) =>
      logs
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { level: number; context?: string; msg: string });
    const wiring = (l: { context?: string }) =>
      ['InstanceLoader', 'RoutesResolver', 'RouterExplorer'].includes(l.context ?? '');
    // this suite's app logs at debug: the wiring lines are there, each at debug (20); an app
    // at info (npm start) leaves them out (one app here: Nest's logger is per process)
    const atDebug = lines(t.logs());
    expect(atDebug.filter(wiring).length).toBeGreaterThan(20);
    expect([...new Set(atDebug.filter(wiring).map((l) => l.level))]).toEqual([20]);
    // the operator's lines stay at info: where the secrets are, the store, the port
    const store = atDebug.find((l) => l.context === 'Bootstrap' && l.msg.startsWith('store: '));
    expect(store?.level).toBe(30);
  });

  it('should log each request with its status and correlation id, and no secret from its URL or headers', async () => {
    await http(t.baseUrl, 'GET', '/api/kiosks/PLT_pathSecret9?token=querySecret9&limit=1', {
      key: t.keys.admin,
      headers: { 'x-correlation-id': 'log-line-1', authorization: 'Bearer headerSecret9' },
    });
    const line = t
      .logs()
      .split('\n')
      .filter((l) => l.includes('log-line-1') && l.includes('"res"'))
      .map(
        (l) =>
          JSON.parse(l) as {
            correlationId: string;
            req: { path: string };
            res: { statusCode: number };
          },
      )[0];
    expect(line).toBeDefined();
    expect(line.correlationId).toBe('log-line-1');
    expect(line.res).toEqual({ statusCode: 404 });
    expect(line.req.path).toBe('/api/kiosks/PLT_[redacted]');
    for (const secret of ['pathSecret9', 'querySecret9', 'headerSecret9', t.keys.admin])
      expect(t.logs()).not.toContain(secret);
  });
});

describe('configured keys chosen by hand (e2e)', () => {
  it("should never log the server's own key, of a shape no pattern tells from a metric name", async () => {
    const handMade = 'mdai_live_backoffice_key_2026_q4';
    const t = await startTestApp({ AUDITOR_API_KEYS: handMade });
    try {
      // the key in the request's path: the request log line carries it
      const res = await http(t.baseUrl, 'GET', `/api/kiosks/${handMade}`, { key: handMade });
      expect(res.status).toBe(403);
      const lines = t
        .logs()
        .split('\n')
        .filter((l) => l.includes('/api/kiosks/'));
      expect(lines.join('\n')).toContain('/api/kiosks/[api key redacted]');
      expect(t.logs()).not.toContain(handMade);
    } finally {
      await t.close();
    }
  });
});

describe('restart (e2e)', () => {
  it('should keep data and generated keys across a restart', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'mdai-restart-'));
    try {
      const first = await startTestApp({ DATA_DIR: dataDir });
      const reg = await http(first.baseUrl, 'POST', '/api/register-device', {
        key: first.keys.provisioner,
        body: { device_id: 'TEE-RESTART', public_key: pem() },
      });
      expect(reg.status).toBe(201);
      const keys = first.keys;
      await first.close();
      const second = await startTestApp({ DATA_DIR: dataDir });
      expect(second.keys).toEqual(keys);
      const got = await http(second.baseUrl, 'GET', '/api/kiosks/TEE-RESTART', { key: keys.admin });
      expect(got.status).toBe(200);
      expect(got.body.device_id).toBe('TEE-RESTART');
      await second.close();
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('the data a fresh install writes (e2e)', () => {
  itOnSqliteFile(
    "should keep the database file and the directory made for it the server user's alone",
    async () => {
      const parent = mkdtempSync(join(tmpdir(), 'mdai-modes-'));
      const dataDir = join(parent, 'data');
      const t = await startTestApp({ DATA_DIR: dataDir });
      try {
        const reg = await http(t.baseUrl, 'POST', '/api/register-device', {
          key: t.keys.provisioner,
          body: { device_id: 'TEE-MODES', public_key: pem() },
        });
        expect(reg.status).toBe(201);
        const mode = (name: string) => statSync(join(dataDir, name)).mode & 0o777;
        expect(mode('.')).toBe(0o700);
        expect(mode('mdai.sqlite')).toBe(0o600);
        expect(mode('mdai.sqlite-wal')).toBe(0o600);
      } finally {
        await t.close();
        rmSync(parent, { recursive: true, force: true });
      }
    },
  );
});

describe('boot with bad config (e2e)', () => {
  it('should stop with one clear line naming the variable', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'mdai-badboot-'));
    try {
      const child = spawn(process.execPath, ['-r', '@swc-node/register', 'apps/api/src/main.ts'], {
        cwd: join(__dirname, '..'),
        env: { ...process.env, DATA_DIR: dataDir, PORT: 'not-a-port', NODE_ENV: 'development' },
      });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      expect(code).toBe(1);
      expect(stderr.trim().split('\n')).toHaveLength(1);
      expect(stderr).toMatch(/^config error: PORT: must be an integer number$/m);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('listen address (e2e)', () => {
  /** Whether a TCP connection to host:port is accepted. */
  const connects = (host: string, port: number) =>
    new Promise<boolean>((resolve) => {
      const socket = connect({ host, port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });

  it('should listen on HOST only', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'mdai-host-'));
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port: free } = probe.address() as AddressInfo;
        probe.close(() => resolve(free));
      });
    });
    const child = spawn(process.execPath, ['-r', '@swc-node/register', 'apps/api/src/main.ts'], {
      cwd: join(__dirname, '..'),
      env: {
        ...process.env,
        DATA_DIR: dataDir,
        NODE_ENV: 'development',
        LOG_LEVEL: 'info',
        PORT: String(port),
        HOST: '127.0.0.2',
      },
    });
    try {
      let stdout = '';
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => {
          stdout += chunk.toString();
          if (stdout.includes('MDAI API listening')) resolve();
        });
        child.on('exit', (code) => reject(new Error(`server exited ${code}`)));
      });
      expect(stdout).toContain('listening on 127.0.0.2, port');
      expect(await connects('127.0.0.2', port)).toBe(true);
      expect(await connects('127.0.0.1', port)).toBe(false);
    } finally {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('store MAC keys and vault keys (e2e)', () => {
  it('should never log a store MAC key or a vault master key, of any version held, in any text form', async () => {
    const macKey = randomBytes(32);
    const retiredMac = randomBytes(32);
    const stagedMac = randomBytes(32);
    const rotatedVault = randomBytes(32);
    const activeVault = randomBytes(32);
    // STORE_MAC_KEY written as base64 whose last character carries spare bits other than
    // zero: the same 32 bytes, a text none of the canonical forms is
    const canonical = macKey.toString('base64').slice(0, 43);
    const last = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const written = canonical.slice(0, 42) + last[last.indexOf(canonical[42]) ^ 1];
    expect(Buffer.from(written, 'base64').equals(macKey)).toBe(true);
    const t = await startTestApp({
      STORE_MAC_KEY: written,
      STORE_MAC_RETIRED_KEYS: JSON.stringify([
        { key: retiredMac.toString('base64'), retiredAt: '2026-01-01T00:00:00.000Z' },
        { key: stagedMac.toString('base64'), stagedAt: '2026-06-01T00:00:00.000Z' },
      ]),
      // v1 rotated out (still held to open values sealed under it), v2 active
      VAULT_KEYS: `v1:${rotatedVault.toString('base64')},v2:${activeVault.toString('base64')}`,
    });
    try {
      // the keys are the ones the server holds
      expect(t.config.tlog.storeMacKey?.secret.equals(macKey)).toBe(true);
      expect(t.config.tlog.storeMacRetiredKeys?.length).toBe(2);
      expect([...t.config.vault.keys.keys()]).toEqual(['v1', 'v2']);
      const forms = [macKey, retiredMac, stagedMac, rotatedVault, activeVault].flatMap((key) => [
        key.toString('base64'),
        key.toString('base64').replace(/=+$/, ''),
        key.toString('base64url'),
        key.toString('hex'),
      ]);
      forms.push(written);
      // as the server's code logs: through Nest's Logger, which writes to this app's pino
      const logger = new Logger('KeysInLogs');
      t.inScope(() => {
        for (const form of forms) {
          logger.log(`a message holding ${form} as text`);
          logger.warn({ msg: 'a field holding it', note: `key=${form};` });
          logger.error(new Error(`an error holding ${form}`));
        }
      });
      const lines = t
        .logs()
        .split('\n')
        .filter((l) => l.includes('KeysInLogs'));
      expect(lines).toHaveLength(forms.length * 3);
      for (const form of forms)
        expect(
          t
            .logs()
            .split('\n')
            .filter((l) => l.includes(form)),
        ).toEqual([]);
      for (const line of lines) expect(line).toContain('[redacted]');
    } finally {
      await t.close();
    }
  });
});
