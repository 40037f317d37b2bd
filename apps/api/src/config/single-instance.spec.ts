import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initEnv } from '../../../../test/topology/support/compose';
import { loadConfig } from './app-config';
import { ignoredSecretsWarning, singleInstanceWarning } from './single-instance';

describe('singleInstanceWarning', () => {
  let dir: string;
  let env: Record<string, string>;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mdai-single-'));
    env = initEnv(dir);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const production = (extra: Record<string, string> = {}) =>
    loadConfig({ ...env, DATA_DIR: dir, NODE_ENV: 'production', ...extra });

  it('should name SQLite and the missing Redis of a production process', () => {
    expect(singleInstanceWarning(production())).toBe(
      'Single instance only: the store is SQLite (DATABASE_URL unset); REDIS_URL is unset (relay sessions and rate limits are in this process). Replicas need MongoDB and Redis',
    );
    expect(singleInstanceWarning(production({ REDIS_URL: 'redis://127.0.0.1:6379' }))).toBe(
      'Single instance only: the store is SQLite (DATABASE_URL unset). Replicas need MongoDB and Redis',
    );
  });

  it('should say nothing with MongoDB and Redis, or outside production', () => {
    const both = {
      DATABASE_URL: 'mongodb://127.0.0.1:27017/mdai',
      REDIS_URL: 'redis://127.0.0.1:6379',
    };
    expect(singleInstanceWarning(production(both))).toBeUndefined();
    expect(singleInstanceWarning(loadConfig({ DATA_DIR: dir }))).toBeUndefined();
  });
});

describe('ignoredSecretsWarning', () => {
  it('should name the secrets.json a production process ignores, no value, and say nothing otherwise', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mdai-ignored-'));
    try {
      const env = { ...initEnv(dir), DATA_DIR: dir, NODE_ENV: 'production' };
      expect(ignoredSecretsWarning(loadConfig(env))).toBeUndefined();
      writeFileSync(join(dir, 'secrets.json'), JSON.stringify({ JWT_SECRET: 'x'.repeat(40) }));
      const warning = ignoredSecretsWarning(loadConfig(env));
      expect(warning).toContain(`${join(dir, 'secrets.json')} is ignored in production`);
      expect(warning).not.toContain('x'.repeat(40));
      expect(ignoredSecretsWarning(loadConfig({ DATA_DIR: dir }))).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
