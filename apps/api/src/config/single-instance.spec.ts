import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initEnv } from '../../../../test/topology/support/compose';
import { loadConfig } from './app-config';
import { singleInstanceWarning } from './single-instance';

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
