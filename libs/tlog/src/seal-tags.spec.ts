import { generateKeyPairSync } from 'node:crypto';
import { storeTagFault } from './seal-tags';
import { StoreMac } from './store-mac';

describe('storeTagFault', () => {
  const active = new StoreMac({ signingKey: generateKeyPairSync('ed25519').privateKey });
  const retired = new StoreMac({ signingKey: generateKeyPairSync('ed25519').privateKey });

  it("should find no fault in the server's tag of the same data under the active key", () => {
    const tag = { mac: active.mac('vault-audit', '3:abc'), kid: active.kid };
    expect(storeTagFault(active, 'vault-audit', tag, '3:abc')).toBeUndefined();
  });

  it('should name a row without a tag, one tagged under another key, and a tag that does not verify', () => {
    const data = '3:abc';
    expect(storeTagFault(active, 'vault-audit', { mac: null, kid: null }, data)).toBe('untagged');
    expect(storeTagFault(active, 'vault-audit', {}, data)).toBe('untagged');
    expect(
      storeTagFault(
        active,
        'vault-audit',
        { mac: retired.mac('vault-audit', data), kid: retired.kid },
        data,
      ),
    ).toBe('retired_key');
    const tag = { mac: active.mac('vault-audit', data), kid: active.kid };
    // another place in the log, another purpose, a tag claiming the active key id
    expect(storeTagFault(active, 'vault-audit', tag, '4:abc')).toBe('bad_tag');
    expect(storeTagFault(active, 'ledger-link', tag, data)).toBe('bad_tag');
    expect(
      storeTagFault(
        active,
        'vault-audit',
        { mac: retired.mac('vault-audit', data), kid: active.kid },
        data,
      ),
    ).toBe('bad_tag');
  });
});
