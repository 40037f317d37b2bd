import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@app/common';
import {
  generateStoreMacKey,
  legacyStoreMacKey,
  parseStoreMacHistory,
  parseStoreMacKey,
  StoreMac,
  storeTagFault,
} from '@app/tlog';
import { createPrivateKey } from 'node:crypto';
import { initEnv } from '../../../../test/topology/support/compose';
import { loadConfig } from './app-config';
import { rotateKeysIn, rotateLocalKeys } from './key-rotation';

const secretsIn = (file: string) =>
  JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;

/** Review M-2: STORE_MAC_KEY in the configuration and in `keys:rotate`. */
describe('STORE_MAC_KEY', () => {
  let dir: string;
  let env: Record<string, string>;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mdai-storemac-config-'));
    env = initEnv(dir);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const production = (extra: Record<string, string | undefined>) =>
    loadConfig({ ...env, DATA_DIR: dir, NODE_ENV: 'production', ...extra });

  it('should be required in production, and refused malformed without its value', () => {
    expect(env.STORE_MAC_KEY).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    expect(production({}).tlog.storeMacKey?.kid).toMatch(/^[0-9a-f]{16}$/);
    const problems = (extra: Record<string, string | undefined>) => {
      try {
        production(extra);
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return error as ConfigError;
      }
      throw new Error('booted');
    };
    // review L-5: says what to add, and that the existing tags keep verifying
    expect(problems({ STORE_MAC_KEY: undefined }).problems).toEqual([
      {
        variable: 'STORE_MAC_KEY',
        reason:
          'is required when NODE_ENV=production (nothing is generated in production): add STORE_MAC_KEY=$(openssl rand -base64 32), and on an install upgraded from a version without it STORE_MAC_LEGACY=1; existing tags still verify',
      },
    ]);
    const short = 'dG9vLXNob3J0LWEtc2VjcmV0';
    const bad = problems({ STORE_MAC_KEY: short });
    expect(bad.variable).toBe('STORE_MAC_KEY');
    expect(bad.message).not.toContain(short);
    const history = problems({ STORE_MAC_RETIRED_KEYS: `[{"key":"${short}"}]` });
    expect(history.variable).toBe('STORE_MAC_RETIRED_KEYS');
    expect(history.message).not.toContain(short);
  });

  it('should be generated into secrets.json outside production, once', () => {
    const local = mkdtempSync(join(tmpdir(), 'mdai-storemac-local-'));
    try {
      const first = loadConfig({ DATA_DIR: local }).tlog.storeMacKey!;
      expect(loadConfig({ DATA_DIR: local }).tlog.storeMacKey!.kid).toBe(first.kid);
      const config = loadConfig({ DATA_DIR: local }).tlog;
      expect(first.kid).not.toBe(legacyStoreMacKey(config.signingKey).kid);
      // review M-2: a fresh install keeps no key derived from the signing key, so a tag made
      // with TLOG_SIGNING_KEY alone does not verify
      expect(secretsIn(join(local, 'secrets.json')).STORE_MAC_RETIRED_KEYS).toBeUndefined();
      const forger = new StoreMac({ signingKey: config.signingKey });
      const forged = { mac: forger.mac('ledger-link', 'row'), kid: forger.kid };
      expect(storeTagFault(new StoreMac(config), 'ledger-link', forged, 'row')).toBe('retired_key');
      expect(new StoreMac(config).verify('ledger-link', 'row', forged.mac)).toBe(false);
    } finally {
      rmSync(local, { recursive: true, force: true });
    }
  });

  it('should keep verifying the tags of an install from before it (secrets.json without it)', () => {
    const local = mkdtempSync(join(tmpdir(), 'mdai-storemac-upgrade-'));
    try {
      const file = join(local, 'secrets.json');
      loadConfig({ DATA_DIR: local });
      const { STORE_MAC_KEY: _dropped, ...older } = secretsIn(file);
      writeFileSync(file, JSON.stringify(older));
      const signingKey = createPrivateKey(older.TLOG_SIGNING_KEY.replace(/\\n/g, '\n'));
      // a tag the older version made, under the key derived from the log key and its id
      const old = new StoreMac({ signingKey });
      const stored = { mac: old.mac('ledger-link', 'row'), kid: old.kid };

      const upgraded = loadConfig({ DATA_DIR: local });
      expect(secretsIn(file).STORE_MAC_KEY).toMatch(/^[A-Za-z0-9+/]{43}=$/);
      // the derived key recorded as a retired one (review M-2: accepted only while listed)
      expect(
        parseStoreMacHistory('STORE_MAC_RETIRED_KEYS', secretsIn(file).STORE_MAC_RETIRED_KEYS).map(
          (k) => k.kid,
        ),
      ).toEqual([old.kid]);
      const mac = new StoreMac(upgraded.tlog);
      expect(mac.kid).not.toBe(old.kid);
      expect(storeTagFault(mac, 'ledger-link', stored, 'row')).toBeUndefined();
      // and after the log key's rotation, through the key keys:rotate kept
      rotateLocalKeys(local, ['log'], new Date(), 0);
      const rotated = loadConfig({ DATA_DIR: local }).tlog;
      expect(rotated.signingKey.equals(signingKey)).toBe(false);
      expect(storeTagFault(new StoreMac(rotated), 'ledger-link', stored, 'row')).toBeUndefined();
    } finally {
      rmSync(local, { recursive: true, force: true });
    }
  });

  // review L6 (README, the upgrade of an install outside production whose log key comes from
  // the environment): what each case does, as the README says
  it('should keep verifying the old tags of an install whose log key is in the environment', () => {
    const local = mkdtempSync(join(tmpdir(), 'mdai-storemac-envkey-'));
    try {
      const file = join(local, 'secrets.json');
      const { TLOG_SIGNING_KEY } = env; // the environment's, not secrets.json's
      const base = { DATA_DIR: local, NODE_ENV: 'development', TLOG_SIGNING_KEY };
      const old = new StoreMac({
        signingKey: createPrivateKey(TLOG_SIGNING_KEY.replace(/\\n/g, '\n')),
      });
      const stored = { mac: old.mac('ledger-link', 'row'), kid: old.kid };
      const fault = (extra: Record<string, string>) =>
        storeTagFault(
          new StoreMac(loadConfig({ ...base, ...extra }).tlog),
          'ledger-link',
          stored,
          'row',
        );
      // the usual case: generated into secrets.json with the derived key of the environment's
      expect(fault({})).toBeUndefined();
      expect(
        parseStoreMacHistory('STORE_MAC_RETIRED_KEYS', secretsIn(file).STORE_MAC_RETIRED_KEYS).map(
          (k) => k.kid,
        ),
      ).toEqual([old.kid]);
      rmSync(file);
      // the history in the environment: nothing recorded, the old tags refused without the flag
      expect(fault({ STORE_MAC_RETIRED_KEYS: '[]' })).toBe('retired_key');
      expect(fault({ STORE_MAC_RETIRED_KEYS: '[]', STORE_MAC_LEGACY: '1' })).toBeUndefined();
      // STORE_MAC_KEY in the environment too: as in production, the flag keeps them verifying
      const own = { STORE_MAC_KEY: generateStoreMacKey() };
      rmSync(file, { force: true });
      expect(fault(own)).toBe('retired_key');
      expect(fault({ ...own, STORE_MAC_LEGACY: '1' })).toBeUndefined();
    } finally {
      rmSync(local, { recursive: true, force: true });
    }
  });

  it('keys:rotate log should keep STORE_MAC_KEY, and pin the derived key only while it is accepted', () => {
    const now = new Date('2026-01-02T03:04:05Z');
    // review M-2: a fresh install does not accept the derived key: nothing pinned
    const next = rotateKeysIn(env, ['log'], now, 0);
    expect(next.STORE_MAC_KEY).toBe(env.STORE_MAC_KEY);
    // (.env.example's history, empty, stays so)
    expect(next.STORE_MAC_RETIRED_KEYS).toBe(env.STORE_MAC_RETIRED_KEYS);
    expect(parseStoreMacHistory('STORE_MAC_RETIRED_KEYS', next.STORE_MAC_RETIRED_KEYS)).toEqual([]);
    // an upgraded production install (STORE_MAC_LEGACY=1): pinned, and the flag turned off
    const old = legacyStoreMacKey(createPrivateKey(env.TLOG_SIGNING_KEY.replace(/\\n/g, '\n')));
    const upgraded = rotateKeysIn({ ...env, STORE_MAC_LEGACY: '1' }, ['log'], now, 0);
    expect(upgraded.STORE_MAC_LEGACY).toBe('0');
    const pinned = parseStoreMacHistory('STORE_MAC_RETIRED_KEYS', upgraded.STORE_MAC_RETIRED_KEYS);
    expect(pinned.map((k) => [k.kid, k.retiredAt])).toEqual([[old.kid, now]]);
    // a second rotation keeps the first one's and adds none (the new log key tagged nothing)
    const twice = rotateKeysIn(upgraded, ['log'], now, 0);
    expect(
      parseStoreMacHistory('STORE_MAC_RETIRED_KEYS', twice.STORE_MAC_RETIRED_KEYS),
    ).toHaveLength(1);
    // the flag accepts the current log key's derived key
    const tag = new StoreMac({
      signingKey: createPrivateKey(env.TLOG_SIGNING_KEY.replace(/\\n/g, '\n')),
    });
    const stored = { mac: tag.mac('ledger-link', 'row'), kid: tag.kid };
    expect(
      storeTagFault(
        new StoreMac(production({ STORE_MAC_LEGACY: '1' }).tlog),
        'ledger-link',
        stored,
        'row',
      ),
    ).toBeUndefined();
    expect(storeTagFault(new StoreMac(production({}).tlog), 'ledger-link', stored, 'row')).toBe(
      'retired_key',
    );
  });

  it('keys:rotate mac should retire the current key, whose tags still verify', () => {
    const now = new Date('2026-01-02T03:04:05Z');
    const before = production({}).tlog;
    const tag = new StoreMac(before).mac('ledger-link', 'row');
    const next = rotateKeysIn(env, ['mac'], now, 0);
    expect(next.TLOG_SIGNING_KEY).toBe(env.TLOG_SIGNING_KEY);
    expect(next.STORE_MAC_KEY).not.toBe(env.STORE_MAC_KEY);
    const after = production({
      STORE_MAC_KEY: next.STORE_MAC_KEY,
      STORE_MAC_RETIRED_KEYS: next.STORE_MAC_RETIRED_KEYS,
    }).tlog;
    const mac = new StoreMac(after);
    expect(mac.kid).toBe(parseStoreMacKey('STORE_MAC_KEY', next.STORE_MAC_KEY).kid);
    expect(mac.kid).not.toBe(before.storeMacKey!.kid);
    const stored = { mac: tag, kid: before.storeMacKey!.kid };
    expect(storeTagFault(mac, 'ledger-link', stored, 'row')).toBeUndefined();
    // without the history, those tags are under a key the server does not hold
    const without = new StoreMac({ ...after, storeMacRetiredKeys: [] });
    expect(storeTagFault(without, 'ledger-link', stored, 'row')).toBe('retired_key');
    // a deployment that never set it: the key derived from the log key is the one retired
    const { STORE_MAC_KEY: _unset, ...legacy } = env;
    const first = rotateKeysIn(legacy, ['mac'], now, 0);
    const retired = parseStoreMacHistory('STORE_MAC_RETIRED_KEYS', first.STORE_MAC_RETIRED_KEYS);
    expect(retired.map((k) => k.kid)).toEqual([legacyStoreMacKey(before.signingKey).kid]);
  });

  // review M-4: a rolling rotation in two steps, no JSON edited by hand
  it('keys:rotate mac --stage then --promote: every replica holds the new key before any tags under it', () => {
    const now = new Date('2026-01-02T03:04:05Z');
    const before = production({}).tlog;
    const staged = rotateKeysIn(env, ['mac'], now, 0, 'stage');
    expect(staged.STORE_MAC_KEY).toBe(env.STORE_MAC_KEY);
    const [entry] = parseStoreMacHistory('STORE_MAC_RETIRED_KEYS', staged.STORE_MAC_RETIRED_KEYS);
    expect(entry.stagedAt).toEqual(now);
    // a replica restarted on the staged values still tags under the old key
    const stagedReplica = new StoreMac(
      production({ STORE_MAC_RETIRED_KEYS: staged.STORE_MAC_RETIRED_KEYS }).tlog,
    );
    expect(stagedReplica.kid).toBe(before.storeMacKey!.kid);
    expect(stagedReplica.knows(entry.kid)).toBe(true);
    expect(() => rotateKeysIn(staged, ['mac'], now, 0, 'stage')).toThrow(
      /already holds a staged key/,
    );
    expect(() => rotateKeysIn(env, ['mac'], now, 0, 'promote')).toThrow(/holds no staged key/);

    const later = new Date('2026-01-03T03:04:05Z');
    const promoted = rotateKeysIn(staged, ['mac'], later, 0, 'promote');
    const after = production({
      STORE_MAC_KEY: promoted.STORE_MAC_KEY,
      STORE_MAC_RETIRED_KEYS: promoted.STORE_MAC_RETIRED_KEYS,
    }).tlog;
    expect(after.storeMacKey!.kid).toBe(entry.kid);
    expect(after.storeMacRetiredKeys!.map((k) => [k.kid, k.retiredAt, k.stagedAt])).toEqual([
      [before.storeMacKey!.kid, later, undefined],
    ]);
    // both ways during the rolling restart: each replica verifies the other's tags
    const promotedReplica = new StoreMac(after);
    const fromPromoted = {
      mac: promotedReplica.mac('ledger-link', 'row'),
      kid: promotedReplica.kid,
    };
    const fromStaged = { mac: stagedReplica.mac('ledger-link', 'row'), kid: stagedReplica.kid };
    expect(storeTagFault(stagedReplica, 'ledger-link', fromPromoted, 'row')).toBeUndefined();
    expect(storeTagFault(promotedReplica, 'ledger-link', fromStaged, 'row')).toBeUndefined();
  });

  // review L-6: hand edits gone wrong stop the boot, naming the variable and never a value
  it('should refuse a history listing a key twice, a current key also retired or a vault key, an all-zero key', () => {
    const refused = (extra: Record<string, string>) => {
      try {
        production(extra);
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        const { problems, message } = error as ConfigError;
        for (const value of Object.values(extra)) expect(message).not.toContain(value);
        expect(message).not.toContain(env.STORE_MAC_KEY);
        return problems;
      }
      throw new Error('booted');
    };
    const other = generateStoreMacKey();
    expect(
      refused({ STORE_MAC_RETIRED_KEYS: JSON.stringify([{ key: other }, { key: other }]) }),
    ).toEqual([
      { variable: 'STORE_MAC_RETIRED_KEYS', reason: expect.stringContaining('entry 1: kid') },
    ]);
    expect(
      refused({ STORE_MAC_RETIRED_KEYS: JSON.stringify([{ key: env.STORE_MAC_KEY }]) }),
    ).toEqual([{ variable: 'STORE_MAC_KEY', reason: 'is also listed in STORE_MAC_RETIRED_KEYS' }]);
    const vault = env.VAULT_KEYS.split(':')[1];
    expect(refused({ STORE_MAC_KEY: vault })).toEqual([
      { variable: 'STORE_MAC_KEY', reason: 'must not be one of the VAULT_KEYS secrets' },
    ]);
    const zero = Buffer.alloc(32).toString('base64');
    expect(refused({ STORE_MAC_KEY: zero })).toEqual([
      {
        variable: 'STORE_MAC_KEY',
        reason: 'the key must not be all zero bytes (openssl rand -base64 32)',
      },
    ]);
    expect(refused({ STORE_MAC_RETIRED_KEYS: JSON.stringify([{ key: zero }]) })[0].variable).toBe(
      'STORE_MAC_RETIRED_KEYS',
    );
  });
});
