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
      const noHistory = run({ STORE_MAC_RETIRED_KEYS: undefined }, which);
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

// what README tells an operator of a fresh install: scripts/init-env.sh, then keys:rotate with
// the shell holding .env; the history of a fresh install is there, empty, so no --no-history
describe('a fresh production .env (e2e)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mdai-fresh-env-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const ROOT = join(__dirname, '..');
  /** What `sh -c 'set -a; . <files>; set +a'` (dash here: POSIX sh) gives `node -e` to print. */
  const PRINT = 'process.stdout.write(JSON.stringify(process.env))';
  const shellEnv = (...files: string[]): Record<string, string> =>
    JSON.parse(
      execFileSync(
        'sh',
        [
          '-c',
          `set -a; for f in "$@"; do . "$f"; done; set +a; exec "${process.execPath}" -e '${PRINT}'`,
          'sh',
          ...files,
        ],
        { cwd: dir, env: { PATH: process.env.PATH }, encoding: 'utf8' },
      ),
    ) as Record<string, string>;
  const nodeEnv = (file: string): Record<string, string> =>
    JSON.parse(
      execFileSync(process.execPath, [`--env-file=${file}`, '-e', PRINT], {
        env: { PATH: process.env.PATH },
        encoding: 'utf8',
      }),
    ) as Record<string, string>;
  const pick = (env: Record<string, string>, names: string[]) =>
    Object.fromEntries(names.map((n) => [n, env[n]]));

  it('should rotate log and mac without --no-history, from the shell that read .env', () => {
    const own = mkdtempSync(join(dir, 'rotate-'));
    const env: Record<string, string> = { ...initEnv(own), DATA_DIR: own, NODE_ENV: 'production' };
    // before the fix: STORE_MAC_RETIRED_KEYS unset, refused without --no-history
    expect(env.STORE_MAC_RETIRED_KEYS).toBe('[]');
    const before = loadConfig(env);
    for (const which of ['log', 'mac']) {
      const out = join(own, `${which}.env`);
      const ran = spawnSync(
        'sh',
        [
          '-c',
          `set -a; . "$1"; set +a; exec "${process.execPath}" -r @swc-node/register scripts/keys-rotate.ts ${which} --out "$2"`,
          'sh',
          join(own, 'init.env'),
          out,
        ],
        { cwd: ROOT, env: { PATH: process.env.PATH, DATA_DIR: own }, encoding: 'utf8' },
      );
      expect({ status: ran.status, stderr: ran.stderr }).toEqual({ status: 0, stderr: '' });
      const after = loadConfig({ ...env, ...parseDotenv(readFileSync(out, 'utf8')) });
      if (which === 'mac') {
        expect(after.tlog.storeMacKey!.kid).not.toBe(before.tlog.storeMacKey!.kid);
        expect(after.tlog.storeMacRetiredKeys!.map((k) => k.kid)).toEqual([
          before.tlog.storeMacKey!.kid,
        ]);
      } else expect(after.tlog.storeMacRetiredKeys).toEqual([]);
    }
  });

  it('should give a shell, node --env-file and compose the same values, keys:rotate --out too', () => {
    const own = mkdtempSync(join(dir, 'readers-'));
    const composed = initEnv(own); // what compose reads (compose-go's dotenv rules)
    const file = join(own, 'init.env');
    const names = Object.keys(composed);
    expect(names).toEqual(
      expect.arrayContaining(['OFFLINE_TOKEN_PRIVATE_KEY', 'TLOG_SIGNING_KEY']),
    );
    // before the fix the shell stopped at the PEM's spaces: "PRIVATE: not found"
    expect(pick(shellEnv(file), names)).toEqual(composed);
    expect(pick(nodeEnv(file), names)).toEqual(composed);
    // the lines keys:rotate writes (a PEM, the key histories' JSON) read the same way
    const out = join(own, 'rotated.env');
    execFileSync(
      process.execPath,
      ['-r', '@swc-node/register', 'scripts/keys-rotate.ts', 'token', 'log', 'mac', '--out', out],
      {
        cwd: ROOT,
        env: { ...process.env, ...composed, DATA_DIR: own, NODE_ENV: 'production' },
        encoding: 'utf8',
      },
    );
    const rotated = parseDotenv(readFileSync(out, 'utf8'));
    const changed = Object.keys(rotated);
    expect(changed).toEqual(
      expect.arrayContaining(['TLOG_RETIRED_KEYS', 'STORE_MAC_RETIRED_KEYS', 'TLOG_SIGNING_KEY']),
    );
    expect(pick(shellEnv(file, out), [...new Set([...names, ...changed])])).toEqual({
      ...composed,
      ...rotated,
    });
    expect(pick(nodeEnv(out), changed)).toEqual(rotated);
    // and the server boots on it
    const after = loadConfig({ ...composed, ...rotated, DATA_DIR: own, NODE_ENV: 'production' });
    expect(after.tlog.retiredKeys).toHaveLength(1);
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
