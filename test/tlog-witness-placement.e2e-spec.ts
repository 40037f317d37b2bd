import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { http, startTestApp, TestApp } from './support/test-app';
import { initEnv } from './topology/support/compose';

const WARNING =
  'TLOG_WITNESS_FILE is inside DATA_DIR: whoever can write DATA_DIR can rewrite a log and its witness lines alike';

/**
 * Findings M2: in production a witness file inside DATA_DIR protects nothing against someone
 * who can write DATA_DIR (the docs said so, the server did not). It is said at boot and on
 * /health, as a warning: the server serves as before.
 */
describe('the witness file inside DATA_DIR in production (e2e)', () => {
  let dir: string;
  let t: TestApp | undefined;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'mdai-witness-place-'))));
  afterEach(async () => {
    await t?.close();
    t = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  const start = (env: Record<string, string> = {}) =>
    startTestApp({
      ...initEnv(dir),
      NODE_ENV: 'production',
      DATA_DIR: join(dir, 'data'),
      ...env,
    });

  it('should warn at boot and on /health, without degrading', async () => {
    t = await start();
    expect(t.config.tlog.witnessFile).toBe(join(dir, 'data', 'tlog-witness.ndjson'));
    expect(t.logs()).toContain(WARNING);
    const health = await http(t.baseUrl, 'GET', '/health', { key: t.keys.admin });
    expect(health.status).toBe(200);
    expect(health.body.details.tlog).toMatchObject({
      status: 'up',
      warning: expect.stringContaining(WARNING),
    });
    // the public answer is the status alone
    expect((await http(t.baseUrl, 'GET', '/health')).body).toEqual({ status: 'ok' });
  });

  it('should say nothing of a witness file outside DATA_DIR', async () => {
    t = await start({ TLOG_WITNESS_FILE: join(dir, 'witness', 'tlog-witness.ndjson') });
    expect(t.logs()).not.toContain('TLOG_WITNESS_FILE is inside DATA_DIR');
    const health = await http(t.baseUrl, 'GET', '/health', { key: t.keys.admin });
    expect(health.status).toBe(200);
    expect(health.body.details.tlog).toEqual({ status: 'up' });
  });

  it('should say nothing outside production', async () => {
    t = await start({ NODE_ENV: 'development' });
    expect(t.logs()).not.toContain('TLOG_WITNESS_FILE is inside DATA_DIR');
  });
});
