import { randomBytes } from 'node:crypto';
import { VaultSettings } from '../vault.config';
import { VaultError } from '../vault.errors';
import { KeyringService } from './keyring.service';

function keyring(keys: Record<string, Buffer>, active: string): KeyringService {
  const vault = { keys: new Map(Object.entries(keys)), activeKey: active } as VaultSettings;
  return new KeyringService(vault);
}

describe('KeyringService', () => {
  const v1 = randomBytes(32);
  const v2 = randomBytes(32);

  it('should seal and open a value bound to its context', () => {
    const sut = keyring({ v1 }, 'v1');
    const sealed = sut.seal('hunter22', 'wifi:abc');
    expect(sealed).toMatch(/^sealed1\.v1\./);
    expect(sealed).not.toContain('hunter22');
    expect(sut.openString(sealed, 'wifi:abc')).toBe('hunter22');
    expect(() => sut.open(sealed, 'wifi:other')).toThrow(VaultError);
  });

  it('should detect a tampered value', () => {
    const sut = keyring({ v1 }, 'v1');
    const parts = sut.seal('secret', 'ctx').split('.');
    const ct = Buffer.from(parts[3], 'base64url');
    ct[0] ^= 1;
    parts[3] = ct.toString('base64url');
    expect(() => sut.open(parts.join('.'), 'ctx')).toThrow('failed authentication');
    expect(() => sut.open('garbage', 'ctx')).toThrow('malformed');
  });

  it('should reseal old values under the active key and still open them', () => {
    const old = keyring({ v1 }, 'v1').seal('secret', 'ctx');
    const sut = keyring({ v1, v2 }, 'v2');
    const resealed = sut.reseal(old, 'ctx')!;
    expect(sut.versionOf(resealed)).toBe('v2');
    expect(sut.openString(resealed, 'ctx')).toBe('secret');
    expect(sut.reseal(resealed, 'ctx')).toBeUndefined();
    expect(() => keyring({ v2 }, 'v2').open(old, 'ctx')).toThrow(
      'restarted with a VAULT_KEYS that holds it',
    );
  });

  it('should answer key_unavailable (503) for a version it lacks, and name the version while it is recently asked for', () => {
    const old = keyring({ v1 }, 'v1').seal('secret', 'ctx');
    const sut = keyring({ v2 }, 'v2');
    expect(sut.missingVersions()).toEqual([]);
    let error: unknown;
    try {
      sut.open(old, 'ctx');
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: 'key_unavailable' });
    const missing = sut.missingVersions();
    expect(missing.map((m) => m.version)).toEqual(['v1']);
    // a stray value once, long ago, does not keep the replica unhealthy
    const later = new Date(missing[0].since.getTime() + 16 * 60 * 1000);
    expect(sut.missingVersions(later)).toEqual([]);
  });
});
