import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestApp, TestApp } from './support/test-app';
import { initEnv } from './topology/support/compose';

const WARNING = 'FRAUD_LEGACY_TAGGING=1 is set: it is meant for the one start that upgrades';

/**
 * FRAUD_LEGACY_TAGGING=1 is for the one production start that upgrades a store from before the
 * tags; left set, a later start tags rows a database writer inserted as legacy. A production
 * start with it says so (one WARN naming the variable and what to do).
 */
describe('FRAUD_LEGACY_TAGGING=1 said at a production start (e2e)', () => {
  let dir: string;
  let keys: Record<string, string>;
  let t: TestApp | undefined;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mdai-legacy-warn-'));
    keys = initEnv(dir);
  });
  afterEach(async () => {
    await t?.close();
    t = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  const start = (env: Record<string, string>) =>
    startTestApp({
      ...keys,
      NODE_ENV: 'production',
      DATA_DIR: join(dir, 'data'),
      TLOG_WITNESS_FILE: join(dir, 'witness.ndjson'),
      ...env,
    });
  const warnings = (app: TestApp) =>
    app
      .logs()
      .split('\n')
      .filter((line) => line.includes('FRAUD_LEGACY_TAGGING=1 is set'));

  it('should warn once, naming the variable and saying to unset it', async () => {
    t = await start({ FRAUD_LEGACY_TAGGING: '1' });
    const lines = warnings(t);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(WARNING);
    expect(lines[0]).toContain('unset it');
    expect(JSON.parse(lines[0])).toMatchObject({ level: 40 });
  });

  it('should say nothing without it, with it off, or outside production', async () => {
    t = await start({});
    expect(warnings(t)).toEqual([]);
    await t.close();
    t = await start({ FRAUD_LEGACY_TAGGING: '0' });
    expect(warnings(t)).toEqual([]);
    await t.close();
    t = await start({ FRAUD_LEGACY_TAGGING: '1', NODE_ENV: 'development' });
    expect(warnings(t)).toEqual([]);
  });
});
