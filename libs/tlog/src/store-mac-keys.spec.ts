import { generateKeyPairSync, hkdfSync } from 'node:crypto';
import { ConfigError } from '@app/common';
import { storeTagFault } from './seal-tags';
import { StoreMac, storeMacWith } from './store-mac';
import {
  generateStoreMacKey,
  legacyStoreMacKey,
  parseStoreMacHistory,
  parseStoreMacKey,
  serializeStoreMacHistory,
} from './store-mac-keys';

/** Review M-2: the store-MAC secret (STORE_MAC_KEY) has a life of its own. */
describe('StoreMac keys', () => {
  const signing = () => generateKeyPairSync('ed25519').privateKey;
  const key = () => parseStoreMacKey('STORE_MAC_KEY', generateStoreMacKey());

  it('should give the same tags under a STORE_MAC_KEY whatever the signing key', () => {
    const macKey = key();
    const one = new StoreMac({ signingKey: signing(), storeMacKey: macKey });
    const two = new StoreMac({ signingKey: signing(), storeMacKey: macKey });
    expect(one.kid).toBe(macKey.kid);
    expect(two.kid).toBe(one.kid);
    const tag = one.mac('ledger-link', 'row');
    expect(two.mac('ledger-link', 'row')).toBe(tag);
    expect(storeTagFault(two, 'ledger-link', { mac: tag, kid: one.kid }, 'row')).toBeUndefined();
  });

  it('should verify the tags made before STORE_MAC_KEY (derived from the signing key) under their kid', () => {
    const signingKey = signing();
    const before = new StoreMac({ signingKey });
    // the key those tags were made under: HKDF-SHA256 of the signing key's PKCS#8 bytes
    const ikm = signingKey.export({ format: 'der', type: 'pkcs8' });
    const hkdf = Buffer.from(hkdfSync('sha256', ikm, 'mdai/store-mac/v1', 'ledger-link', 32));
    expect(before.keyFor('ledger-link')).toEqual(hkdf);
    const tag = storeMacWith(hkdf, 'row');
    expect(before.kid).toBe(legacyStoreMacKey(signingKey).kid);

    const macKey = key();
    const now = new StoreMac({ signingKey, storeMacKey: macKey, storeMacLegacy: true });
    expect(now.kid).not.toBe(before.kid);
    expect(storeTagFault(now, 'ledger-link', { mac: tag, kid: before.kid }, 'row')).toBeUndefined();
    expect(now.verify('ledger-link', 'row', tag)).toBe(true);
    // review M-2: not accepted unless listed or flagged, so the signing key alone makes no tag
    // that verifies
    const strict = new StoreMac({ signingKey, storeMacKey: macKey });
    expect(storeTagFault(strict, 'ledger-link', { mac: tag, kid: before.kid }, 'row')).toBe(
      'retired_key',
    );
    expect(strict.verify('ledger-link', 'row', tag)).toBe(false);
    expect(strict.knows(before.kid)).toBe(false);
    // and once the signing key is rotated, through the pinned derived key only
    const pinned = [{ ...legacyStoreMacKey(signingKey), retiredAt: new Date() }];
    const history = parseStoreMacHistory(
      'STORE_MAC_RETIRED_KEYS',
      serializeStoreMacHistory(pinned),
    );
    const rotated = new StoreMac({
      signingKey: signing(),
      storeMacKey: macKey,
      storeMacRetiredKeys: history,
    });
    expect(
      storeTagFault(rotated, 'ledger-link', { mac: tag, kid: before.kid }, 'row'),
    ).toBeUndefined();
    const unpinned = new StoreMac({ signingKey: signing(), storeMacKey: key() });
    expect(storeTagFault(unpinned, 'ledger-link', { mac: tag, kid: before.kid }, 'row')).toBe(
      'retired_key',
    );
  });

  it('should verify tags under a retired key, and refuse forged ones, unknown keys and purposes', () => {
    const signingKey = signing();
    const old = key();
    const was = new StoreMac({ signingKey, storeMacKey: old });
    const tag = was.mac('vault-audit', '1:abc');
    const dayTag = was.mac('timesheet-day', 'day');
    const retired = parseStoreMacHistory(
      'STORE_MAC_RETIRED_KEYS',
      JSON.stringify([{ key: old.secret.toString('base64') }]),
    );
    expect(retired[0].kid).toBe(old.kid);
    const is = new StoreMac({ signingKey, storeMacKey: key(), storeMacRetiredKeys: retired });
    expect(is.knows(old.kid)).toBe(true);
    expect(storeTagFault(is, 'vault-audit', { mac: tag, kid: old.kid }, '1:abc')).toBeUndefined();
    // rows that store no key id (the timesheet read model) verify under any key held
    expect(is.verify('timesheet-day', 'day', dayTag)).toBe(true);
    // forged: another tag under a known kid, a tag of other data or another purpose
    const forged = `${tag[0] === 'A' ? 'B' : 'A'}${tag.slice(1)}`;
    expect(storeTagFault(is, 'vault-audit', { mac: forged, kid: old.kid }, '1:abc')).toBe(
      'bad_tag',
    );
    expect(storeTagFault(is, 'vault-audit', { mac: tag, kid: old.kid }, '2:abc')).toBe('bad_tag');
    expect(storeTagFault(is, 'ledger-link', { mac: tag, kid: old.kid }, '1:abc')).toBe('bad_tag');
    expect(is.verify('timesheet-day', 'day 2', dayTag)).toBe(false);
    expect(is.verify('timesheet-entry', 'day', dayTag)).toBe(false);
    // the tag under a key this server does not hold (dropped from the history)
    const dropped = new StoreMac({ signingKey, storeMacKey: key() });
    expect(storeTagFault(dropped, 'vault-audit', { mac: tag, kid: old.kid }, '1:abc')).toBe(
      'retired_key',
    );
    expect(dropped.verify('timesheet-day', 'day', dayTag)).toBe(false);
  });

  it('should refuse a malformed key or history without naming the value', () => {
    const secret = 'c2VjcmV0LXRoYXQtaXMtbm90LTMyLWJ5dGVz';
    for (const run of [
      () => parseStoreMacKey('STORE_MAC_KEY', secret),
      () => parseStoreMacKey('STORE_MAC_KEY', `${generateStoreMacKey()}x`),
      () => parseStoreMacHistory('STORE_MAC_RETIRED_KEYS', `[{"key":"${secret}"}]`),
      () => parseStoreMacHistory('STORE_MAC_RETIRED_KEYS', `{"key":"${secret}"}`),
      () =>
        parseStoreMacHistory(
          'STORE_MAC_RETIRED_KEYS',
          `[{"key":"${generateStoreMacKey()}","kid":"${secret}"}]`,
        ),
    ]) {
      expect(run).toThrow(ConfigError);
      try {
        run();
      } catch (error) {
        expect((error as Error).message).not.toContain(secret);
      }
    }
    expect(parseStoreMacHistory('STORE_MAC_RETIRED_KEYS', undefined)).toEqual([]);
  });
});
