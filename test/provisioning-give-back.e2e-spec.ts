import { constants, generateKeyPairSync, privateDecrypt } from 'node:crypto';
import { KioskRegistryService } from '@app/kiosk-registry';
import { WifiChallengeRepository } from '@app/provisioning/infrastructure/persistence/wifi-challenge.repository';
import { loadOpenApi } from './support/openapi-walk';
import { http, startTestApp, TestApp } from './support/test-app';

const WIFI_PASSWORD = 'Give-Back-WiFi-Pa55';
const VALIDATE_RESPONSES = (
  loadOpenApi().spec.paths['/api/validate-challenge'].post as { responses: Record<string, any> }
).responses;

/**
 * The store fails after the right answer marked the challenge used (the kiosk's re-read): the
 * challenge is given back and the store's 503 says nothing was changed, which is then true. When
 * giving it back fails too, the challenge stays spent: the answer says so (503
 * `challenge_spent_unreleased`, ask for a new one), not the store's "nothing was changed".
 * The in-process app on its store; the faults are the kiosk read's and the give-back's.
 */
describe('validate-challenge: a store failure after the challenge is marked used (e2e)', () => {
  let t: TestApp;
  let kiosks: KioskRegistryService;
  let challenges: WifiChallengeRepository;
  const kiosk = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ioError = () => Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR_READ' });

  beforeAll(async () => {
    t = await startTestApp();
    kiosks = t.app.get(KioskRegistryService, { strict: false });
    challenges = t.app.get(WifiChallengeRepository, { strict: false });
    const registered = await http(t.baseUrl, 'POST', '/api/register-device', {
      key: t.keys.provisioner,
      body: {
        device_id: 'TEE-GIVE-1',
        public_key: kiosk.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      },
    });
    expect(registered.status).toBe(201);
  });
  afterEach(() => jest.restoreAllMocks());
  afterAll(async () => t.close());

  /** A new challenge and its right answer. */
  async function challenge(): Promise<{ id: string; answer: string }> {
    const res = await http(t.baseUrl, 'POST', '/api/generate-challenge', {
      key: t.keys.admin,
      body: { device_id: 'TEE-GIVE-1', wifi_ssid: 'Site-9', wifi_password: WIFI_PASSWORD },
    });
    expect(res.status).toBe(200);
    const answer = privateDecrypt(
      { key: kiosk.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
      Buffer.from(res.body.qr_payload.challenge, 'base64'),
    ).toString('base64');
    return { id: res.body.qr_payload.bson_id, answer };
  }

  /** validate-challenge, its answer one docs/openapi.json documents. */
  async function validate(id: string, answer: string) {
    const res = await http(t.baseUrl, 'POST', '/api/validate-challenge', {
      body: { bson_id: id, challenge_response: answer },
    });
    const documented = VALIDATE_RESPONSES[String(res.status)];
    expect(documented).toBeDefined();
    if (res.status >= 400) {
      const codes =
        documented.content?.['application/json']?.schema?.allOf?.[1]?.properties?.code?.enum;
      expect(codes).toContain(res.body.code);
    }
    return res;
  }

  /** The kiosk's second read (the one after the mark) fails once. */
  function failKioskReRead(): void {
    const real = kiosks.find.bind(kiosks);
    let calls = 0;
    jest.spyOn(kiosks, 'find').mockImplementation(async (id) => {
      calls += 1;
      if (calls === 2) throw ioError();
      return real(id);
    });
  }

  it('should answer the store error, saying nothing was changed, when the challenge is given back', async () => {
    const { id, answer } = await challenge();
    failKioskReRead();
    const failed = await validate(id, answer);
    expect([failed.status, failed.body.code]).toEqual([503, 'storage_unavailable']);
    expect(failed.body.message).toContain('nothing was changed');
    jest.restoreAllMocks();
    const again = await validate(id, answer);
    expect(again.status).toBe(200);
    expect(again.body.wifi_credentials.password).toBe(WIFI_PASSWORD);
  });

  it.each([
    ['the store fails it', () => jest.spyOn(challenges, 'unmarkUsed').mockRejectedValue(ioError())],
    ['its row changed', () => jest.spyOn(challenges, 'unmarkUsed').mockResolvedValue(false)],
  ])(
    'should answer 503 challenge_spent_unreleased, not "nothing was changed", when giving it back fails (%s)',
    async (_why, failGiveBack) => {
      const { id, answer } = await challenge();
      failKioskReRead();
      failGiveBack();
      const failed = await validate(id, answer);
      expect([failed.status, failed.body.code]).toEqual([503, 'challenge_spent_unreleased']);
      expect(failed.body.message).toContain('ask for a new challenge');
      expect(failed.body.message).not.toContain('nothing was changed');
      // no internals: neither the driver's error nor the password
      expect(JSON.stringify(failed.body)).not.toMatch(/SQLITE|I\/O|Give-Back/);
      jest.restoreAllMocks();
      // it is spent indeed: the same answer again is challenge_used, never the credentials
      const again = await validate(id, answer);
      expect([again.status, again.body.code]).toEqual([409, 'challenge_used']);
    },
  );
});
