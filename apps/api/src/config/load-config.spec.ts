import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@app/common';
import { loadConfig } from './app-config';

/** The keys a store's values are sealed and signed with, as an install's environment holds them. */
function storeKeys(): Record<string, string> {
  const other = mkdtempSync(join(tmpdir(), 'mdai-config-keys-'));
  try {
    const made = JSON.parse(
      (loadConfig({ DATA_DIR: other }), readFileSync(join(other, 'secrets.json'), 'utf8')),
    ) as Record<string, string>;
    return {
      VAULT_KEYS: made.VAULT_KEYS,
      OFFLINE_TOKEN_PRIVATE_KEY: made.OFFLINE_TOKEN_PRIVATE_KEY,
      TLOG_SIGNING_KEY: made.TLOG_SIGNING_KEY,
    };
  } finally {
    rmSync(other, { recursive: true, force: true });
  }
}

describe('loadConfig', () => {
  let dataDir: string;
  beforeEach(() => (dataDir = mkdtempSync(join(tmpdir(), 'mdai-config-'))));
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  it('should run on defaults, generating secrets once into a 0600 file', () => {
    const first = loadConfig({ DATA_DIR: dataDir });
    const file = join(dataDir, 'secrets.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(first.app.port).toBe(3000);
    expect(first.database.driver).toBe('sqlite');
    expect(first.session.ttlSeconds).toBe(180);
    expect(first.vault).toMatchObject({
      maxFileBytes: 32 * 1024 * 1024,
      retentionDays: 30,
      retentionSweepSeconds: 3600,
      readHoldBytes: 64 * 1024 * 1024,
    });
    expect(first.notices.join()).toContain('generated JWT_SECRET');
    expect(first.notices.join()).not.toContain(first.auth.jwtSecret);
    const second = loadConfig({ DATA_DIR: dataDir });
    expect(second.auth).toEqual(first.auth);
    expect(second.vault.keys).toEqual(first.vault.keys);
    expect(second.notices.join()).toContain('using local secrets');
    expect(JSON.parse(readFileSync(file, 'utf8')).ADMIN_API_KEYS).toBe(first.auth.apiKeys.admin[0]);
  });

  it('should generate no keys for a store whose secrets.json is gone (a backup restored without it), naming what to put back', () => {
    writeFileSync(join(dataDir, 'mdai.sqlite'), '');
    let error: unknown;
    try {
      loadConfig({ DATA_DIR: dataDir });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain('holds a store (mdai.sqlite) but no secrets.json');
    expect((error as Error).message).not.toContain('ADMIN_API_KEYS');
    expect((error as Error).message).toContain('VAULT_KEYS');
    expect(existsSync(join(dataDir, 'secrets.json'))).toBe(false);
    // an install that keeps the store's keys in its environment (no secrets.json ever): the API
    // keys it lacks are generated
    const env = loadConfig({ DATA_DIR: dataDir, ...storeKeys() }).notices.join();
    expect(env).toMatch(/generated .*ADMIN_API_KEYS/);
    rmSync(join(dataDir, 'secrets.json'));
    // a secrets.json there (an upgrade that adds a secret): the missing one is generated
    writeFileSync(join(dataDir, 'secrets.json'), JSON.stringify({ JWT_SECRET: 'x'.repeat(48) }));
    expect(loadConfig({ DATA_DIR: dataDir }).notices.join()).toContain('generated');
  });

  it('should say a store secrets.json that is there but holds no key (`{}`) is empty, not missing, naming the keys without values', () => {
    writeFileSync(join(dataDir, 'mdai.sqlite'), '');
    writeFileSync(join(dataDir, 'secrets.json'), '{}\n');
    let error: unknown;
    try {
      loadConfig({ DATA_DIR: dataDir });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toContain('holds a store (mdai.sqlite) but a secrets.json that holds no key');
    expect(message).not.toContain('but no secrets.json');
    expect(message).toContain('VAULT_KEYS');
    expect(message).toContain('STORE_MAC_KEY');
    // nothing generated into it
    expect(readFileSync(join(dataDir, 'secrets.json'), 'utf8')).toBe('{}\n');
  });

  it('should prefer variables from the environment over the generated ones', () => {
    const config = loadConfig({
      DATA_DIR: dataDir,
      ADMIN_API_KEYS: 'admin-key-0000000001, admin-key-0000000002',
    });
    expect(config.auth.apiKeys.admin).toEqual(['admin-key-0000000001', 'admin-key-0000000002']);
  });

  it('should require PUBLIC_URL in production', () => {
    expect(() => loadConfig({ DATA_DIR: dataDir, NODE_ENV: 'production' })).toThrow(
      'PUBLIC_URL: is required when NODE_ENV=production (the URL clients use, e.g. https://mdai.example.org)',
    );
  });

  it('should name every missing or invalid variable of a production boot at once, no value', () => {
    const secretish = 'short-secret-value';
    let error: unknown;
    try {
      loadConfig({
        DATA_DIR: dataDir,
        NODE_ENV: 'production',
        PORT: 'abc',
        JWT_SECRET: secretish,
        VAULT_MAX_FILE_BYTES: '0',
        SESSION_TTL_SECONDS: '1',
        SYNC_MAX_PACKETS: '0',
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const { problems, message } = error as ConfigError;
    const production = 'is required when NODE_ENV=production (nothing is generated in production)';
    expect(problems).toEqual([
      { variable: 'PORT', reason: 'must be an integer number' },
      {
        variable: 'PUBLIC_URL',
        reason:
          'is required when NODE_ENV=production (the URL clients use, e.g. https://mdai.example.org)',
      },
      ...[
        'ADMIN_API_KEYS',
        'PROVISIONER_API_KEYS',
        'AUDITOR_API_KEYS',
        'MOBILE_API_KEYS',
        'HARDWARE_API_KEYS',
        'VAULT_KEYS',
        'OFFLINE_TOKEN_PRIVATE_KEY',
        'TLOG_SIGNING_KEY',
      ].map((variable) => ({ variable, reason: production })),
      {
        variable: 'STORE_MAC_KEY',
        reason: `${production}: add STORE_MAC_KEY=$(openssl rand -base64 32), and on an install upgraded from a version without it STORE_MAC_LEGACY=1; existing tags still verify`,
      },
      { variable: 'JWT_SECRET', reason: 'must be at least 32 characters' },
      { variable: 'VAULT_MAX_FILE_BYTES', reason: 'must not be less than 1' },
      { variable: 'SESSION_TTL_SECONDS', reason: 'must not be less than 2' },
      { variable: 'SYNC_MAX_PACKETS', reason: 'must not be less than 1' },
    ]);
    // one message: a count, then one line per variable
    expect(message.split('\n')[0]).toBe('15 settings are missing or invalid:');
    for (const { variable, reason } of problems)
      expect(message).toContain(`\n  ${variable}: ${reason}`);
    expect(message).not.toContain(secretish);
    expect(existsSync(join(dataDir, 'secrets.json'))).toBe(false);
  });

  it('should name every bad variable outside production, writing no secrets.json then', () => {
    expect(() =>
      loadConfig({ DATA_DIR: dataDir, PORT: '70000', TRUST_PROXY: 'true', RELAY_RATE_BURST: '0' }),
    ).toThrow(
      new ConfigError([
        { variable: 'PORT', reason: 'must not be greater than 65535' },
        {
          variable: 'TRUST_PROXY',
          reason:
            'must be false, a hop count, or a comma-separated list of loopback, linklocal, uniquelocal, addresses and subnets',
        },
        { variable: 'RELAY_RATE_BURST', reason: 'must not be less than 1' },
      ]),
    );
    expect(existsSync(join(dataDir, 'secrets.json'))).toBe(false);
  });

  it('should read STORE_MAC_HEARTBEAT_MS (a minute unset, 500 ms to an hour)', () => {
    expect(loadConfig({ DATA_DIR: dataDir }).tlog.storeMacHeartbeatMs).toBe(60_000);
    expect(
      loadConfig({ DATA_DIR: dataDir, STORE_MAC_HEARTBEAT_MS: '1500' }).tlog.storeMacHeartbeatMs,
    ).toBe(1500);
    for (const bad of ['100', '3600001', 'soon'])
      expect(() => loadConfig({ DATA_DIR: dataDir, STORE_MAC_HEARTBEAT_MS: bad })).toThrow(
        /STORE_MAC_HEARTBEAT_MS/,
      );
  });

  it('should read TLOG_UNSEALED_SWEEP_MS (a minute unset, a second to an hour)', () => {
    expect(loadConfig({ DATA_DIR: dataDir }).tlog.unsealedSweepMs).toBe(60_000);
    expect(
      loadConfig({ DATA_DIR: dataDir, TLOG_UNSEALED_SWEEP_MS: '5000' }).tlog.unsealedSweepMs,
    ).toBe(5000);
    for (const bad of ['999', '3600001', '1.5', 'soon'])
      expect(() => loadConfig({ DATA_DIR: dataDir, TLOG_UNSEALED_SWEEP_MS: bad })).toThrow(
        /TLOG_UNSEALED_SWEEP_MS/,
      );
  });

  it('should read FRAUD_DEVICE_PER_MINUTE (50 unset, at least 1: with 0 one refused packet was a flood)', () => {
    expect(loadConfig({ DATA_DIR: dataDir }).fraud.devicePerMinute).toBe(50);
    expect(
      loadConfig({ DATA_DIR: dataDir, FRAUD_DEVICE_PER_MINUTE: '1' }).fraud.devicePerMinute,
    ).toBe(1);
    for (const bad of ['0', '-1', 'many'])
      expect(() => loadConfig({ DATA_DIR: dataDir, FRAUD_DEVICE_PER_MINUTE: bad })).toThrow(
        /FRAUD_DEVICE_PER_MINUTE/,
      );
  });

  it('should refuse a SYNC_MAX_PACKETS whose full batch the JSON body limits cannot carry, naming what to change', () => {
    // 500 (the default) fits the default 1 MiB and 20000 members
    expect(loadConfig({ DATA_DIR: dataDir }).offlineSync.maxPacketsPerBatch).toBe(500);
    let refused: unknown;
    try {
      loadConfig({ DATA_DIR: dataDir, SYNC_MAX_PACKETS: '5000' });
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(ConfigError);
    const [problem, ...others] = (refused as ConfigError).problems;
    expect(others).toEqual([]);
    expect(problem.variable).toBe('SYNC_MAX_PACKETS');
    // 542 bytes and 12 members the largest well-formed packet (packet-bounds.ts)
    expect(problem.reason).toContain('raise JSON_BODY_LIMIT_BYTES to at least 2710014');
    expect(problem.reason).toContain('raise JSON_MAX_KEYS to at least 60001');
    expect(problem.reason).toContain('lower SYNC_MAX_PACKETS to at most 1666');
    // the byte limit alone
    expect(() =>
      loadConfig({ DATA_DIR: dataDir, SYNC_MAX_PACKETS: '500', JSON_BODY_LIMIT_BYTES: '200000' }),
    ).toThrow(/SYNC_MAX_PACKETS: .*over JSON_BODY_LIMIT_BYTES \(200000\).*at most 368$/);
    // limits raised to carry it: it boots
    const raised = loadConfig({
      DATA_DIR: dataDir,
      SYNC_MAX_PACKETS: '5000',
      JSON_BODY_LIMIT_BYTES: '2710014',
      JSON_MAX_KEYS: '60001',
    });
    expect(raised.offlineSync.maxPacketsPerBatch).toBe(5000);
    expect(() =>
      loadConfig({
        DATA_DIR: dataDir,
        SYNC_MAX_PACKETS: '5000',
        JSON_BODY_LIMIT_BYTES: '2710013',
        JSON_MAX_KEYS: '60001',
      }),
    ).toThrow(/SYNC_MAX_PACKETS/);
  });

  it('should stop at an invalid NODE_ENV, as it decides which rules apply', () => {
    expect(() =>
      loadConfig({ DATA_DIR: dataDir, NODE_ENV: 'prod', PORT: 'x', SYNC_MAX_PACKETS: '0' }),
    ).toThrow(
      new ConfigError([
        {
          variable: 'NODE_ENV',
          reason: 'must be one of the following values: development, production, test',
        },
        { variable: 'PORT', reason: 'must be an integer number' },
      ]),
    );
    expect(existsSync(join(dataDir, 'secrets.json'))).toBe(false);
  });

  it('should keep PUBLIC_URL without its trailing slash and derive nothing when it is unset', () => {
    const set = loadConfig({ DATA_DIR: dataDir, PUBLIC_URL: 'https://mdai.example.org:8443/' });
    expect(set.app.publicUrl).toBe('https://mdai.example.org:8443');
    expect(loadConfig({ DATA_DIR: dataDir }).app.publicUrl).toBeUndefined();
  });

  it('should read TRUST_PROXY as false, a hop count or a list, trusting only loopback by default', () => {
    const read = (TRUST_PROXY?: string) =>
      loadConfig({ DATA_DIR: dataDir, TRUST_PROXY }).app.trustProxy;
    expect(read()).toBe('loopback');
    expect(read('false')).toBe(false);
    expect(read('1')).toBe(1);
    expect(read('loopback,10.0.0.0/8 , fd00::1')).toBe('loopback, 10.0.0.0/8, fd00::1');
  });

  it('should size the sync packet-check threads to the cores unless told', () => {
    const cores = availableParallelism();
    expect(loadConfig({ DATA_DIR: dataDir }).offlineSync).toMatchObject({
      verifyWorkers: cores > 1 ? cores : 0,
      verifyQueue: 64,
    });
    expect(
      loadConfig({ DATA_DIR: dataDir, SYNC_VERIFY_WORKERS: '0', SYNC_VERIFY_QUEUE: '3' })
        .offlineSync,
    ).toMatchObject({ verifyWorkers: 0, verifyQueue: 3 });
  });

  it('should point an unset UPSTREAM_URL at the local stub in development only', () => {
    const dev = loadConfig({ DATA_DIR: dataDir });
    expect(dev.upstream).toMatchObject({
      url: 'http://127.0.0.1:4010',
      apiKey: 'dev-upstream-key',
    });
    expect(dev.notices.join()).toContain('UPSTREAM_URL unset: using the local upstream stub');
    const given = loadConfig({ DATA_DIR: dataDir, UPSTREAM_URL: 'https://id.example.org/' });
    expect(given.upstream).toMatchObject({ url: 'https://id.example.org', apiKey: undefined });
    expect(loadConfig({ DATA_DIR: dataDir, NODE_ENV: 'test' }).upstream.url).toBeUndefined();
  });

  it('should refuse to generate anything in production and name every missing secret', () => {
    const run = () =>
      loadConfig({
        DATA_DIR: dataDir,
        NODE_ENV: 'production',
        PUBLIC_URL: 'https://mdai.example.org',
      });
    expect(run).toThrow(ConfigError);
    expect(run).toThrow(
      '\n  JWT_SECRET: is required when NODE_ENV=production (nothing is generated in production)',
    );
    expect(run).toThrow('\n  TLOG_SIGNING_KEY: is required when NODE_ENV=production');
    expect(existsSync(join(dataDir, 'secrets.json'))).toBe(false);
  });

  it.each([
    [{ PORT: 'abc' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ HOST: 'localhost' }, 'HOST'],
    [{ HOST: '127.0.0.256' }, 'HOST'],
    [{ DATABASE_URL: 'postgres://x' }, 'DATABASE_URL'],
    [{ REDIS_URL: 'localhost:6379' }, 'REDIS_URL'],
    [{ JWT_SECRET: 'short' }, 'JWT_SECRET'],
    [{ ADMIN_API_KEYS: 'tiny' }, 'ADMIN_API_KEYS'],
    [{ VAULT_KEYS: 'v1:AAAA' }, 'VAULT_KEYS'],
    [{ VAULT_ACTIVE_KEY: 'v9' }, 'VAULT_ACTIVE_KEY'],
    [{ VAULT_MAX_FILE_BYTES: '0' }, 'VAULT_MAX_FILE_BYTES'],
    [{ VAULT_RETENTION_DAYS: 'forever' }, 'VAULT_RETENTION_DAYS'],
    [{ VAULT_RETENTION_SWEEP_SECONDS: '1' }, 'VAULT_RETENTION_SWEEP_SECONDS'],
    [{ SESSION_TTL_SECONDS: '1' }, 'SESSION_TTL_SECONDS'],
    [{ UPSTREAM_URL: 'ftp://x' }, 'UPSTREAM_URL'],
    [{ PUBLIC_URL: 'mdai.example.org' }, 'PUBLIC_URL'],
    [{ PUBLIC_URL: 'https://mdai.example.org/?x=1' }, 'PUBLIC_URL'],
    [{ TRUST_PROXY: 'true' }, 'TRUST_PROXY'],
    [{ TRUST_PROXY: 'loopback, 10.0.0.0/8/1' }, 'TRUST_PROXY'],
    [{ TRUST_PROXY: 'everyone' }, 'TRUST_PROXY'],
    [{ OFFLINE_TOKEN_PRIVATE_KEY: 'not-a-pem-key' }, 'OFFLINE_TOKEN_PRIVATE_KEY'],
    [{ SYNC_MAX_PACKETS: '0' }, 'SYNC_MAX_PACKETS'],
    [{ SYNC_VERIFY_WORKERS: '-1' }, 'SYNC_VERIFY_WORKERS'],
    [{ SYNC_VERIFY_WORKERS: '65' }, 'SYNC_VERIFY_WORKERS'],
    [{ SYNC_VERIFY_QUEUE: '0' }, 'SYNC_VERIFY_QUEUE'],
    [{ SQLITE_CHECKPOINTS: 'thread' }, 'SQLITE_CHECKPOINTS'],
    [{ TLOG_SIGNING_KEY: 'not a key' }, 'TLOG_SIGNING_KEY'],
    [{ SITE_DEFAULT_TIME_ZONE: 'Asia/Atlantis' }, 'SITE_DEFAULT_TIME_ZONE'],
    [{ PHONE_DEFAULT_COUNTRY: 'ZZ' }, 'PHONE_DEFAULT_COUNTRY'],
    [{ PHONE_DEFAULT_COUNTRY: 'India' }, 'PHONE_DEFAULT_COUNTRY'],
    [{ TIMESHEET_MAX_PERIOD_DAYS: '0' }, 'TIMESHEET_MAX_PERIOD_DAYS'],
    [{ TIMESHEET_MAX_SHIFT_HOURS: '99' }, 'TIMESHEET_MAX_SHIFT_HOURS'],
    [{ TIMESHEET_BACKFILL_DAYS: '0' }, 'TIMESHEET_BACKFILL_DAYS'],
    [{ TIMESHEET_BACKFILL_DAYS: '99999' }, 'TIMESHEET_BACKFILL_DAYS'],
  ])('should stop on %j with an error naming %s and not its value', (env, variable) => {
    let error: unknown;
    try {
      loadConfig({ DATA_DIR: dataDir, ...env });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe(variable);
    const value = Object.values(env)[0];
    if (value.length > 4) expect((error as Error).message).not.toContain(value);
  });

  it('should name a bad log key, store-MAC key and store-MAC history together, not the first only', () => {
    let error: unknown;
    try {
      loadConfig({
        DATA_DIR: dataDir,
        TLOG_SIGNING_KEY: 'not a key',
        STORE_MAC_KEY: 'dG9vLXNob3J0LWEtc2VjcmV0',
        STORE_MAC_RETIRED_KEYS: '[{"key":"dG9vLXNob3J0LWEtc2VjcmV0"}]',
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems.map((p) => p.variable)).toEqual([
      'TLOG_SIGNING_KEY',
      'STORE_MAC_KEY',
      'STORE_MAC_RETIRED_KEYS',
    ]);
  });

  it.each([
    [{ PORT: 'abc' }, 'PORT: must be an integer number'],
    [{ VAULT_RETENTION_DAYS: 'forever' }, 'VAULT_RETENTION_DAYS: must be an integer number'],
    [{ PORT: '70000' }, 'PORT: must not be greater than 65535'],
    [{ SYNC_MAX_PACKETS: '0' }, 'SYNC_MAX_PACKETS: must not be less than 1'],
  ])('should say what is wrong with %j: %s', (env, message) => {
    expect(() => loadConfig({ DATA_DIR: dataDir, ...env })).toThrow(message);
  });

  it('should checkpoint the SQLite WAL on a thread unless SQLITE_CHECKPOINTS=connection', () => {
    expect(loadConfig({ DATA_DIR: dataDir }).database).toMatchObject({ checkpoints: 'worker' });
    expect(
      loadConfig({ DATA_DIR: dataDir, SQLITE_CHECKPOINTS: 'connection' }).database,
    ).toMatchObject({ checkpoints: 'connection' });
  });

  it('should select MongoDB from a mongodb:// DATABASE_URL, reading no SQLite variable', () => {
    expect(
      loadConfig({
        DATA_DIR: dataDir,
        DATABASE_URL: 'mongodb://127.0.0.1:27017/mdai',
        SQLITE_CHECKPOINTS: 'ignored',
      }).database,
    ).toEqual({
      driver: 'mongo',
      url: 'mongodb://127.0.0.1:27017/mdai',
    });
  });
});

describe('loadConfig: OFFLINE_TOKEN_PRIVATE_KEY', () => {
  it('should accept a PEM written on one line with \\n escapes (as env files hold it)', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'mdai-config-pem-'));
    try {
      const { generateKeyPairSync } =
        jest.requireActual<typeof import('node:crypto')>('node:crypto');
      const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' })
        .privateKey.export({ type: 'pkcs8', format: 'pem' })
        .toString();
      const config = loadConfig({
        DATA_DIR: dataDir,
        OFFLINE_TOKEN_PRIVATE_KEY: pem.replace(/\n/g, '\\n'),
      });
      expect(config.offlineTokens.signingKey.asymmetricKeyType).toBe('ec');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
