import { execFileSync, spawnSync } from 'node:child_process';
import { createPublicKey, KeyObject } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
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
      ['-r', '@swc-node/register', 'scripts/keys-rotate.ts', '--out', out, '--no-history'],
      { cwd: join(__dirname, '..'), env: { ...process.env, ...env }, encoding: 'utf8' },
    );
    const rotated = parseDotenv(readFileSync(out, 'utf8'));
    expect(Object.keys(rotated).sort()).toEqual([
      'OFFLINE_TOKEN_PRIVATE_KEY',
      'OFFLINE_TOKEN_RETIRED_KEYS',
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
    // a fresh install accepts no key derived from the log key: none kept (review M-2)
    expect(after.tlog.storeMacRetiredKeys).toEqual([]);
    expect(legacyStoreMacKey(before.tlog.signingKey).kid).not.toBe(after.tlog.storeMacKey!.kid);
  });

  it('should refuse an --out path that exists (a leftover file or a planted link) and rotate nothing', () => {
    const own = mkdtempSync(join(dir, 'exists-'));
    const env = { ...initEnv(own), DATA_DIR: own, NODE_ENV: 'production' };
    const planted = join(own, 'planted.env');
    writeFileSync(planted, '', { mode: 0o666 });
    const link = join(own, 'link.env');
    symlinkSync(planted, link);
    for (const out of [planted, link]) {
      const ran = spawnSync(
        process.execPath,
        ['-r', '@swc-node/register', 'scripts/keys-rotate.ts', 'log', '--out', out, '--no-history'],
        { cwd: join(__dirname, '..'), env: { ...process.env, ...env }, encoding: 'utf8' },
      );
      expect(ran.status).not.toBe(0);
      expect(ran.stderr).toContain('exists: give a path that does not');
      expect(ran.stderr).not.toMatch(/\n\s+at /);
    }
    expect(readFileSync(planted, 'utf8')).toBe('');
  });

  // review M-3: the values come from the shell; one missing there was rotated as if unset
  it('should refuse a shell without the store-MAC key or its history', () => {
    const own = mkdtempSync(join(dir, 'shell-'));
    const env: Record<string, string> = { ...initEnv(own), DATA_DIR: own, NODE_ENV: 'production' };
    const run = (extra: Record<string, string | undefined>, ...args: string[]) => {
      const out = join(own, `refused-${args.join('-')}.env`);
      const ran = spawnSync(
        process.execPath,
        ['-r', '@swc-node/register', 'scripts/keys-rotate.ts', ...args, '--out', out],
        { cwd: join(__dirname, '..'), env: { ...process.env, ...env, ...extra }, encoding: 'utf8' },
      );
      return { status: ran.status, stderr: ran.stderr, wrote: existsSync(out) };
    };
    // mac would retire the key derived from the log key, not the servers' STORE_MAC_KEY
    const noKey = run({ STORE_MAC_KEY: '' }, 'mac');
    expect(noKey).toMatchObject({ status: 1, wrote: false });
    expect(noKey.stderr).toContain('config error: STORE_MAC_KEY: is not set in this shell');
    // log or mac without the history would write one without the retired keys
    for (const which of ['log', 'mac']) {
      const noHistory = run({}, which);
      expect(noHistory).toMatchObject({ status: 1, wrote: false });
      expect(noHistory.stderr).toContain('STORE_MAC_RETIRED_KEYS: is not set in this shell');
      expect(noHistory.stderr).not.toContain(env.STORE_MAC_KEY);
    }
    // told there is none, or given it: written
    expect(run({}, 'mac', '--no-history')).toMatchObject({ status: 0, wrote: true });
    expect(run({ STORE_MAC_RETIRED_KEYS: '[]' }, 'log')).toMatchObject({ status: 0, wrote: true });
    // review M-4: the two steps of a rolling mac rotation, and --stage only with mac
    expect(run({}, 'log', '--stage', '--no-history')).toMatchObject({ status: 1, wrote: false });
    expect(run({}, 'mac', '--stage', '--no-history')).toMatchObject({ status: 0, wrote: true });
    const staged = parseDotenv(
      readFileSync(join(own, 'refused-mac---stage---no-history.env'), 'utf8'),
    );
    expect(Object.keys(staged)).toEqual(['STORE_MAC_RETIRED_KEYS']);
    expect(run(staged, 'mac', '--promote')).toMatchObject({ status: 0, wrote: true });
    const promoted = parseDotenv(readFileSync(join(own, 'refused-mac---promote.env'), 'utf8'));
    expect(Object.keys(promoted).sort()).toEqual(['STORE_MAC_KEY', 'STORE_MAC_RETIRED_KEYS']);
    expect((JSON.parse(staged.STORE_MAC_RETIRED_KEYS) as Array<{ key: string }>)[0].key).toBe(
      promoted.STORE_MAC_KEY,
    );
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
