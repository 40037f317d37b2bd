import { generateKeyPairSync } from 'node:crypto';
import { StoreMac, storeMacWith } from './store-mac';

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
});
