import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { LogKeyService } from './log-key.service';
import { TlogSettings } from './tlog.config';

/**
 * A server whose own TLOG_RETIRED_KEYS retires its TLOG_SIGNING_KEY with a window that ends
 * after boot (inside the rotation's grace) starts (the config refuses only a window already
 * over); once the window ends it says so (/health) and stops trusting its own key.
 */
describe('LogKeyService with its own key retired inside the grace', () => {
  const { privateKey } = generateKeyPairSync('ed25519');
  const boot = new Date('2026-01-01T10:00:00Z');
  const notAfter = new Date('2026-01-01T11:00:00Z');
  const settings: TlogSettings = {
    signingKey: privateKey,
    retiredKeys: [
      { publicKey: createPublicKey(privateKey), notBefore: new Date(0), notAfter, rotatedAt: boot },
    ],
    origin: 'mdai.test',
    witnessFile: '/dev/null',
  };

  it('should be sound until the window ends, and name the variable after it', () => {
    const keys = new LogKeyService(settings);
    expect(keys.activeNotAfter).toEqual(notAfter);
    expect(keys.keyProblemAt(boot)).toBeUndefined();
    expect(keys.trustedAt(boot)).toEqual([keys.active]);
    const later = new Date(notAfter.getTime() + 1000);
    expect(keys.keyProblemAt(later)).toContain('TLOG_SIGNING_KEY is retired in TLOG_RETIRED_KEYS');
    expect(keys.trustedAt(later)).toEqual([]);
  });
});
