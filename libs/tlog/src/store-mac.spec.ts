import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { StoreMac, storeMacWith } from './store-mac';
import { legacyStoreMacKey, parseStoreMacKey } from './store-mac-keys';

describe('StoreMac', () => {
  const a = generateKeyPairSync('ed25519').privateKey;
  const b = generateKeyPairSync('ed25519').privateKey;

  it('should give the same tag on every replica holding the same signing key', () => {
    const one = new StoreMac({ signingKey: a });
    const two = new StoreMac({ signingKey: a });
    expect(one.mac('ledger-link', 'row')).toBe(two.mac('ledger-link', 'row'));
    expect(one.mac('ledger-link', 'row')).toHaveLength(43);
    expect(one.kid).toBe(two.kid);
    expect(storeMacWith(one.keyFor('ledger-link'), 'row')).toBe(one.mac('ledger-link', 'row'));
  });

  it('should refuse a tag of other data, another purpose, another key, or not a tag', () => {
    const mac = new StoreMac({ signingKey: a });
    const tag = mac.mac('timesheet-day', 'day 1');
    expect(mac.verify('timesheet-day', 'day 1', tag)).toBe(true);
    expect(mac.verify('timesheet-day', 'day 2', tag)).toBe(false);
    expect(mac.verify('timesheet-entry', 'day 1', tag)).toBe(false);
    expect(new StoreMac({ signingKey: b }).verify('timesheet-day', 'day 1', tag)).toBe(false);
    expect(mac.verify('timesheet-day', 'day 1', null)).toBe(false);
    expect(mac.verify('timesheet-day', 'day 1', tag.slice(1))).toBe(false);
    expect(new StoreMac({ signingKey: b }).kid).not.toBe(mac.kid);
  });

  it('should name the held key a tag verifies under (keys:retag), and list the keys held besides the current one', () => {
    const key = () => parseStoreMacKey('STORE_MAC_KEY', randomBytes(32).toString('base64'));
    const [old, staged, current] = [key(), key(), key()];
    const retiredAt = new Date('2026-01-01T00:00:00.000Z');
    const stagedAt = new Date('2026-02-01T00:00:00.000Z');
    const before = new StoreMac({ signingKey: a, storeMacKey: old });
    const tag = before.mac('fraud-event', 'row');
    const mac = new StoreMac({
      signingKey: a,
      storeMacKey: current,
      storeMacRetiredKeys: [
        { ...old, retiredAt },
        { ...staged, stagedAt },
      ],
      storeMacLegacy: true,
    });
    expect(mac.kidOf('fraud-event', 'row', tag)).toBe(old.kid);
    expect(mac.kidOf('fraud-event', 'row', mac.mac('fraud-event', 'row'))).toBe(current.kid);
    expect(mac.kidOf('fraud-event', 'other row', tag)).toBeUndefined();
    expect(mac.kidOf('fraud-review', 'row', tag)).toBeUndefined();
    expect(mac.kidOf('fraud-event', 'row', null)).toBeUndefined();
    expect(
      new StoreMac({ signingKey: a, storeMacKey: current }).kidOf('fraud-event', 'row', tag),
    ).toBeUndefined();
    expect(mac.heldOthers()).toEqual([
      { kid: old.kid, retiredAt },
      { kid: staged.kid, stagedAt },
      { kid: legacyStoreMacKey(a).kid, derived: true },
    ]);
  });
});
