import { createPublicKey } from 'node:crypto';
import { ConfigError, parseKeyHistory } from '@app/common';
import { generateTlogKey } from '@app/tlog';
import { rotateKeysIn, rotationGraceSeconds } from './key-rotation';

const pem = (privateKey: string) =>
  createPublicKey(privateKey.replace(/\\n/g, '\n'))
    .export({ type: 'spki', format: 'der' })
    .toString('hex');

describe('rotateKeysIn', () => {
  const first = new Date('2026-03-01T10:00:00Z');
  const second = new Date('2026-03-01T10:20:00Z'); // a second rotation inside the first's grace

  it("should keep the old key's window open for the grace, and start the next key's at the rotation", () => {
    const key0 = generateTlogKey();
    const once = rotateKeysIn({ TLOG_SIGNING_KEY: key0 }, ['log'], first, 3600);
    const key1 = once.TLOG_SIGNING_KEY;
    const twice = rotateKeysIn(once, ['log'], second, 3600);
    const history = parseKeyHistory('TLOG_RETIRED_KEYS', twice.TLOG_RETIRED_KEYS, 'ed25519');
    expect(
      history.map((k) => k.publicKey.export({ type: 'spki', format: 'der' }).toString('hex')),
    ).toEqual([pem(key0), pem(key1)]);
    expect(history[0]).toMatchObject({
      notBefore: new Date(0),
      notAfter: new Date('2026-03-01T11:00:00Z'),
      rotatedAt: first,
    });
    // key1 signed from the first rotation on (replicas restarted onto it), not from the end
    // of key0's grace: what it signed in between must stay inside its window
    expect(history[1]).toMatchObject({
      notBefore: first,
      notAfter: new Date('2026-03-01T11:20:00Z'),
      rotatedAt: second,
    });
  });

  it('should read KEY_ROTATION_GRACE_SECONDS as whole seconds up to a week', () => {
    expect(rotationGraceSeconds(undefined)).toBe(3600);
    expect(rotationGraceSeconds('0')).toBe(0);
    expect(rotationGraceSeconds('86400')).toBe(86400);
    for (const bad of ['-1', '1.5', 'an hour', String(8 * 24 * 3600)])
      expect(() => rotationGraceSeconds(bad)).toThrow(ConfigError);
  });
});
