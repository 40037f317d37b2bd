import { constants, generateKeyPairSync, KeyObject, privateDecrypt } from 'node:crypto';
import { signKioskAuth } from '@app/kiosk-registry';
import { http, TestApp } from './test-app';

/** A registered kiosk with a Node-held RSA key: signs the relay's auth challenge. */
export class TestKiosk {
  private readonly privateKey: KeyObject;
  readonly publicKeyPem: string;

  constructor(readonly deviceId: string) {
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.privateKey = pair.privateKey;
    this.publicKeyPem = pair.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  }

  static async registered(t: TestApp, deviceId: string): Promise<TestKiosk> {
    const kiosk = new TestKiosk(deviceId);
    const res = await http(t.baseUrl, 'POST', '/api/register-device', {
      key: t.keys.provisioner,
      body: { device_id: deviceId, public_key: kiosk.publicKeyPem },
    });
    if (res.status !== 201)
      throw new Error(`register failed: ${res.status} ${JSON.stringify(res.body)}`);
    return kiosk;
  }

  signAuth(sessionId: string, nonce: string): string {
    return signKioskAuth(this.privateKey, sessionId, nonce);
  }

  /** What the kiosk does with a Wi-Fi challenge QR: RSA-OAEP (SHA-256) decrypt, 32 bytes. */
  decryptChallenge(challengeBase64: string): Buffer {
    return privateDecrypt(
      { key: this.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
      Buffer.from(challengeBase64, 'base64'),
    );
  }
}
