import { constants, generateKeyPairSync, sign } from 'node:crypto';
import { KIOSK_AUTH_INPUT, kioskAuthMessage, signKioskAuth, verifyKioskAuth } from './kiosk-auth';

describe('kiosk auth', () => {
  const kiosk = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const other = generateKeyPairSync('rsa', { modulusLength: 2048 });

  it('should build the documented signing input, byte for byte', () => {
    const sut = kioskAuthMessage('6560f1c2a3b4c5d6e7f80912', 'q2X1c0m9bV8pQ4r7t1w3yA');
    expect(sut.toString('utf8')).toBe('mdai-auth|6560f1c2a3b4c5d6e7f80912|q2X1c0m9bV8pQ4r7t1w3yA');
    expect(sut.toString('utf8')).toBe(
      KIOSK_AUTH_INPUT.replace('<session_id>', '6560f1c2a3b4c5d6e7f80912').replace(
        '<nonce>',
        'q2X1c0m9bV8pQ4r7t1w3yA',
      ),
    );
  });

  it('should verify what signKioskAuth signs, for that session and nonce and key only', () => {
    const signature = signKioskAuth(kiosk.privateKey, 's1', 'n1');
    expect(verifyKioskAuth(kiosk.publicKey, 's1', 'n1', signature)).toBe(true);
    expect(verifyKioskAuth(kiosk.publicKey, 's1', 'n2', signature)).toBe(false);
    expect(verifyKioskAuth(kiosk.publicKey, 's2', 'n1', signature)).toBe(false);
    expect(verifyKioskAuth(other.publicKey, 's1', 'n1', signature)).toBe(false);
    expect(verifyKioskAuth(kiosk.publicKey, 's1', 'n1', '')).toBe(false);
    expect(verifyKioskAuth(kiosk.publicKey, 's1', 'n1', 'bm90IGEgc2lnbmF0dXJl')).toBe(false);
  });

  it('should accept RSASSA-PSS SHA-256 with a 32-byte salt made without this module, and no other salt', () => {
    const message = Buffer.from('mdai-auth|s1|n1', 'utf8');
    const pss = (saltLength: number) =>
      sign('sha256', message, {
        key: kiosk.privateKey,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength,
      }).toString('base64');
    expect(verifyKioskAuth(kiosk.publicKey, 's1', 'n1', pss(32))).toBe(true);
    expect(verifyKioskAuth(kiosk.publicKey, 's1', 'n1', pss(20))).toBe(false);
  });
});
