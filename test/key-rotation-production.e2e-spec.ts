import { execFileSync } from 'node:child_process';
import { createPublicKey, KeyObject } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '@app/api/config/app-config';
import { legacyStoreMacKey } from '@app/tlog';
import { initEnv, parseDotenv } from './topology/support/compose';

/**
 * `npm run keys:rotate -- --out <file>` in production: the operator copies the file's lines
 * into `.env` (docker compose reads them literally, as `scripts/init-env.sh` writes them), and
 * the server boots on them with the new keys and the old ones retired.
 */
describe('keys:rotate --out in production (e2e)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mdai-rotate-prod-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('should write values the server boots on, in the format of init-env.sh', () => {
    const env = { ...initEnv(dir), DATA_DIR: dir, NODE_ENV: 'production' };
    const before = loadConfig(env);
    const out = join(dir, 'rotated.env');
    execFileSync(
      process.execPath,
      ['-r', '@swc-node/register', 'scripts/keys-rotate.ts', '--out', out],
      { cwd: join(__dirname, '..'), env: { ...process.env, ...env }, encoding: 'utf8' },
    );
    const rotated = parseDotenv(readFileSync(out, 'utf8'));
    expect(Object.keys(rotated).sort()).toEqual([
      'OFFLINE_TOKEN_PRIVATE_KEY',
      'OFFLINE_TOKEN_RETIRED_KEYS',
      // the key derived from the old log key (tags from before STORE_MAC_KEY), kept (review M-2)
      'STORE_MAC_RETIRED_KEYS',
      'TLOG_RETIRED_KEYS',
      'TLOG_SIGNING_KEY',
    ]);
    const after = loadConfig({ ...env, ...rotated }); // before the fix: TLOG_SIGNING_KEY refused
    const pub = (key: KeyObject) =>
      (key.type === 'public' ? key : createPublicKey(key))
        .export({ type: 'spki', format: 'der' })
        .toString('hex');
    expect(pub(after.tlog.signingKey)).not.toBe(pub(before.tlog.signingKey));
    expect(after.tlog.retiredKeys.map((k) => pub(k.publicKey))).toEqual([
      pub(before.tlog.signingKey),
    ]);
    expect(after.offlineTokens.retiredKeys.map((k) => pub(k.publicKey))).toHaveLength(1);
    // the store-MAC key is not the log key's: unchanged
    expect(after.tlog.storeMacKey!.kid).toBe(before.tlog.storeMacKey!.kid);
    expect(after.tlog.storeMacRetiredKeys!.map((k) => k.kid)).toEqual([
      legacyStoreMacKey(before.tlog.signingKey).kid,
    ]);
  });
});

describe('keys:rotate --out outside production (e2e)', () => {
  it('should refuse --out, naming why, and rotate nothing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mdai-rotate-dev-'));
    try {
      const out = join(dir, 'rotated.env');
      let failed: { status: number; stderr: string } | undefined;
      try {
        execFileSync(
          process.execPath,
          ['-r', '@swc-node/register', 'scripts/keys-rotate.ts', 'mac', '--out', out],
          {
            cwd: join(__dirname, '..'),
            env: { ...process.env, DATA_DIR: dir, NODE_ENV: 'development' },
            encoding: 'utf8',
            stdio: 'pipe',
          },
        );
      } catch (error) {
        failed = error as { status: number; stderr: string };
      }
      expect(failed?.status).toBe(1);
      expect(failed?.stderr).toContain('--out is for production');
      expect(existsSync(out)).toBe(false);
      expect(existsSync(join(dir, 'secrets.json'))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
