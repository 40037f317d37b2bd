import { constants, createHash, generateKeyPairSync, privateDecrypt } from 'node:crypto';
import { wifiChallengeTagData } from '@app/provisioning/domain/wifi-challenge';
import { WifiChallengeRepository } from '@app/provisioning/infrastructure/persistence/wifi-challenge.repository';
import { StoreMac } from '@app/tlog';
import { KioskDeviceRepository } from '@app/kiosk-registry/infrastructure/persistence/kiosk-device.repository';
import { loadOpenApi } from './support/openapi-walk';
import { OpensslKiosk } from './support/openssl';
import { http, startTestApp, storeDump, storeSet, TestApp } from './support/test-app';

const WIFI_PASSWORD = 'Sup3r-Secret-WiFi-Pa55';
const VALIDATE_RESPONSES = (
  loadOpenApi().spec.paths['/api/validate-challenge'].post as { responses: Record<string, any> }
).responses;

describe('kiosk registration and Wi-Fi provisioning (e2e)', () => {
  let t: TestApp;
  /** The kiosk of the latest `opensslDevice()`: each has its own key, as each board does. */
  let kiosk: OpensslKiosk;
  const kiosks: OpensslKiosk[] = [];
  let seq = 0;

  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    for (const k of kiosks) k.dispose();
    await t.close();
  });

  const register = (deviceId: string, publicKey: string, key = t.keys.provisioner) =>
    http(t.baseUrl, 'POST', '/api/register-device', {
      key,
      body: { device_id: deviceId, public_key: publicKey },
    });
  const generate = (deviceId: string, key = t.keys.admin) =>
    http(t.baseUrl, 'POST', '/api/generate-challenge', {
      key,
      body: { device_id: deviceId, wifi_ssid: 'Site-7 Office', wifi_password: WIFI_PASSWORD },
    });
  /** Every answer of validate-challenge in this suite is one docs/openapi.json documents. */
  const validate = async (bsonId: string, response: Buffer | string) => {
    const res = await http(t.baseUrl, 'POST', '/api/validate-challenge', {
      body: {
        bson_id: bsonId,
        challenge_response: typeof response === 'string' ? response : response.toString('base64'),
      },
    });
    const documented = VALIDATE_RESPONSES[String(res.status)];
    expect({ status: res.status, documented: documented !== undefined }).toEqual({
      status: res.status,
      documented: true,
    });
    if (res.status >= 400) {
      const codes =
        documented.content?.['application/json']?.schema?.allOf?.[1]?.properties?.code?.enum;
      expect(codes).toContain(res.body.code);
    }
    return res;
  };

  /**
   * A challenge's fields changed as the server itself would store them (its tag made again with
   * the server's key): to set up a state, such as an expiry past, that takes too long to wait for.
   */
  async function restamp(id: string, values: Parameters<typeof storeSet>[3]): Promise<void> {
    await storeSet(t, 'wifi_challenges', id, values);
    const stored = await t.app.get(WifiChallengeRepository, { strict: false }).findById(id);
    const tag = t.app
      .get(StoreMac, { strict: false })
      .mac('wifi-challenge', wifiChallengeTagData(stored!));
    await storeSet(t, 'wifi_challenges', id, { sqlite: { tag }, mongo: { tag } });
  }

  async function opensslDevice(): Promise<string> {
    kiosk = new OpensslKiosk();
    kiosks.push(kiosk);
    const deviceId = `TEE-OSSL-${++seq}`;
    // the code beside the status: a failure names why (a 503 under load: which dependency)
    const res = await register(deviceId, kiosk.publicKeyPem());
    expect([res.status, res.body?.code]).toEqual([201, undefined]);
    return deviceId;
  }

  it('should hand the Wi-Fi credentials to a kiosk whose crypto is the OpenSSL command line', async () => {
    const deviceId = await opensslDevice();
    const generated = await generate(deviceId);
    expect(generated.status).toBe(200);
    expect(generated.body).toMatchObject({
      success: true,
      qr_payload: { bson_id: expect.stringMatching(/^[0-9a-f]{24}$/) },
    });
    expect(Date.parse(generated.body.expires_at) - Date.now()).toBeGreaterThan(9 * 60 * 1000);
    const answer = kiosk.decryptChallenge(generated.body.qr_payload.challenge);
    expect(answer).toHaveLength(32);
    const res = await validate(generated.body.qr_payload.bson_id, answer);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      success: true,
      wifi_credentials: { ssid: 'Site-7 Office', password: WIFI_PASSWORD },
    });
  });

  it("should do the same for a key made by Node's crypto", async () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 3072 });
    expect(
      (await register('TEE-NODE-1', publicKey.export({ type: 'spki', format: 'pem' }).toString()))
        .status,
    ).toBe(201);
    const generated = await generate('TEE-NODE-1');
    const answer = privateDecrypt(
      { key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
      Buffer.from(generated.body.qr_payload.challenge, 'base64'),
    );
    const res = await validate(generated.body.qr_payload.bson_id, answer);
    expect(res.status).toBe(200);
    expect(res.body.wifi_credentials.password).toBe(WIFI_PASSWORD);
  });

  it('should refuse a replay after success', async () => {
    const deviceId = await opensslDevice();
    const { body } = await generate(deviceId);
    const answer = kiosk.decryptChallenge(body.qr_payload.challenge);
    expect((await validate(body.qr_payload.bson_id, answer)).status).toBe(200);
    const replay = await validate(body.qr_payload.bson_id, answer);
    expect(replay.status).toBe(409);
    expect(replay.body.code).toBe('challenge_used');
    expect(JSON.stringify(replay.body)).not.toContain(WIFI_PASSWORD);
  });

  it('should lock a challenge after 5 wrong answers, and refuse the right one after that', async () => {
    const deviceId = await opensslDevice();
    const { body } = await generate(deviceId);
    const codes: string[] = [];
    for (let i = 0; i < 5; i++) {
      codes.push((await validate(body.qr_payload.bson_id, Buffer.alloc(32, i))).body.code);
    }
    // a wrong answer never tells the state (see "no oracle" below); the 5th one locked it
    expect(codes).toEqual(Array(5).fill('challenge_mismatch'));
    const right = await validate(
      body.qr_payload.bson_id,
      kiosk.decryptChallenge(body.qr_payload.challenge),
    );
    expect(right.status).toBe(423);
    expect(right.body.code).toBe('challenge_locked');
  });

  it('should refuse an expired challenge', async () => {
    const deviceId = await opensslDevice();
    const { body } = await generate(deviceId);
    const past = new Date(Date.now() - 1000);
    await restamp(body.qr_payload.bson_id, {
      sqlite: { expires_at: past.toISOString() },
      mongo: { expiresAt: past },
    });
    const res = await validate(
      body.qr_payload.bson_id,
      kiosk.decryptChallenge(body.qr_payload.challenge),
    );
    expect(res.status).toBe(410);
    expect(res.body.code).toBe('challenge_expired');
  });

  it('should let exactly one of two concurrent validations win', async () => {
    const deviceId = await opensslDevice();
    const { body } = await generate(deviceId);
    const answer = kiosk.decryptChallenge(body.qr_payload.challenge);
    const results = await Promise.all(
      Array.from({ length: 6 }, () => validate(body.qr_payload.bson_id, answer)),
    );
    expect(results.map((r) => r.status).sort()).toEqual([200, 409, 409, 409, 409, 409]);
  });

  it('should answer unknown and malformed challenges clearly', async () => {
    expect((await validate('0123456789abcdef01234567', Buffer.alloc(32))).body.code).toBe(
      'challenge_mismatch',
    );
    const badId = await validate('not-an-id', Buffer.alloc(32));
    expect([badId.status, badId.body.code]).toEqual([400, 'validation_failed']);
    const badB64 = await validate('0123456789abcdef01234567', '***not base64***');
    expect([badB64.status, badB64.body.code]).toEqual([400, 'validation_failed']);
    const short = await validate('0123456789abcdef01234567', Buffer.alloc(31));
    expect([short.status, short.body.code]).toEqual([400, 'invalid_challenge_response']);
  });

  it('should give challenges ids that no other id leads to (no timestamp, process part or counter)', async () => {
    const deviceId = await opensslDevice();
    const session = await http(t.baseUrl, 'POST', '/api/auth/mobile', {
      key: t.keys.mobile,
      body: { user_id: 'u1', platform_id: 'PLT_provisioningSeen01' },
    });
    expect(session.status).toBe(201);
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push((await generate(deviceId)).body.qr_payload.bson_id);
    // still 24 hex (DESIGN.md's bson_id), but an ObjectId made by newId() shares its bytes 4-8
    // with every id of the process, and its counter follows the last one
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{24}$/);
    const middles = new Set([session.body.session_id, ...ids].map((id) => id.slice(8, 18)));
    expect(middles.size).toBe(ids.length + 1);
    const counters = ids.map((id) => parseInt(id.slice(18), 16));
    expect(counters.slice(1).some((c, i) => c === counters[i] + 1)).toBe(false);
  });

  it('should be no oracle: an unknown id and a wrong answer to a real one answer alike', async () => {
    const deviceId = await opensslDevice();
    const { body } = await generate(deviceId);
    const real = await validate(body.qr_payload.bson_id, Buffer.alloc(32, 7));
    const unknown = await validate('00000000ffffffffff000001', Buffer.alloc(32, 7));
    const shape = (r: { status: number; body: Record<string, unknown> }) => [
      r.status,
      r.body.code,
      r.body.message,
    ];
    expect(shape(real)).toEqual(shape(unknown));
    expect(shape(real)).toEqual([
      401,
      'challenge_mismatch',
      'The challenge response is wrong, or no open challenge has this bson_id',
    ]);
    // used, locked and expired challenges answer a wrong answer the same way
    const answer = kiosk.decryptChallenge(body.qr_payload.challenge);
    expect((await validate(body.qr_payload.bson_id, answer)).status).toBe(200);
    expect(shape(await validate(body.qr_payload.bson_id, Buffer.alloc(32, 7)))).toEqual(
      shape(unknown),
    );
  });

  it('should take the Wi-Fi passwords WPA2 takes: none, 8-63 printable ASCII, or 64 hex digits', async () => {
    const deviceId = await opensslDevice();
    const withPassword = (password: string) =>
      http(t.baseUrl, 'POST', '/api/generate-challenge', {
        key: t.keys.admin,
        body: { device_id: deviceId, wifi_ssid: 'Site-7 Office', wifi_password: password },
      });
    const hex = 'a1B2'.repeat(16);
    for (const good of ['', 'x'.repeat(8), ' ~'.repeat(31) + '!', hex]) {
      expect([good.length, (await withPassword(good)).status]).toEqual([good.length, 200]);
    }
    const refused = [
      'x'.repeat(7),
      'x'.repeat(64), // 64 characters are a key: hex digits only
      'g'.repeat(63) + 'a',
      'pässwörd-1',
      'tab\there-1',
      'line\nbreak-1',
      'emoji-🔑-key',
    ];
    for (const bad of refused) {
      const res = await withPassword(bad);
      expect([res.status, res.body.code]).toEqual([400, 'invalid_wifi_password']);
      expect(res.body.message).toContain('64 hex digits');
      expect(JSON.stringify(res.body)).not.toContain(bad);
    }
    // past the longest (a key's 64): the request's bound
    expect((await withPassword(hex + 'a')).body.code).toBe('validation_failed');
  });

  it('should count the SSID in UTF-8 bytes, as 802.11 does (at most 32 octets)', async () => {
    const deviceId = await opensslDevice();
    const withSsid = (ssid: string) =>
      http(t.baseUrl, 'POST', '/api/generate-challenge', {
        key: t.keys.admin,
        body: { device_id: deviceId, wifi_ssid: ssid, wifi_password: WIFI_PASSWORD },
      });
    // 32 characters, 64 bytes
    const wide = await withSsid('é'.repeat(32));
    expect([wide.status, wide.body.code]).toEqual([400, 'validation_failed']);
    expect(JSON.stringify(wide.body)).toContain('must be at most 32 bytes in UTF-8');
    expect((await withSsid('é'.repeat(16))).status).toBe(200);
    expect((await withSsid('x'.repeat(32))).status).toBe(200);
    expect((await withSsid('x'.repeat(33))).status).toBe(400);
  });

  it('should check roles on the admin routes', async () => {
    const deviceId = await opensslDevice();
    expect((await generate(deviceId, t.keys.provisioner)).status).toBe(403);
    expect((await generate(deviceId, t.keys.mobile)).status).toBe(403);
    expect((await generate(deviceId, '')).status).toBe(401);
    const own = generateKeyPairSync('rsa', { modulusLength: 2048 })
      .publicKey.export({ type: 'spki', format: 'pem' })
      .toString();
    expect((await register('TEE-ROLE', own, t.keys.mobile)).status).toBe(403);
    expect((await register('TEE-ROLE', own, t.keys.admin)).status).toBe(201);
    const { body } = await generate(deviceId);
    const qr = await fetch(`${t.baseUrl}/api/challenges/${body.qr_payload.bson_id}/qr`, {
      headers: { 'x-api-key': t.keys.provisioner },
    });
    expect(qr.status).toBe(403);
  });

  it('should serve the QR as PNG and SVG to the admin', async () => {
    const deviceId = await opensslDevice();
    const { body } = await generate(deviceId);
    const png = await fetch(body.qr_url, {
      headers: { 'x-api-key': t.keys.admin },
    });
    expect(png.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await png.arrayBuffer()).subarray(0, 8)).toEqual(
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    );
    const svg = await fetch(
      `${t.baseUrl}/api/challenges/${body.qr_payload.bson_id}/qr?format=svg`,
      { headers: { 'x-api-key': t.keys.admin } },
    );
    expect(svg.headers.get('content-type')).toContain('image/svg+xml');
    expect(await svg.text()).toContain('<svg');
    expect(
      (
        await http(t.baseUrl, 'GET', '/api/challenges/0123456789abcdef01234567/qr', {
          key: t.keys.admin,
        })
      ).body.code,
    ).toBe('challenge_not_found');
  });

  it('should refuse malformed, private, non-RSA and weak keys with a 400', async () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' })
      .publicKey.export({ type: 'spki', format: 'pem' })
      .toString();
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 })
      .publicKey.export({ type: 'spki', format: 'pem' })
      .toString();
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pkcs1 = rsa.publicKey.export({ type: 'pkcs1', format: 'pem' }).toString();
    const priv = rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const garbage = `-----BEGIN PUBLIC KEY-----\n${'QUJD'.repeat(40)}\n-----END PUBLIC KEY-----\n`;
    const cases: Array<[string, string]> = [
      [ec, 'unsupported_key_type'],
      [weak, 'weak_public_key'],
      [pkcs1, 'invalid_public_key'],
      [priv, 'invalid_public_key'],
      [garbage, 'invalid_public_key'],
      ['x'.repeat(200), 'invalid_public_key'],
    ];
    for (const [pem, code] of cases) {
      const res = await register(`TEE-BAD-${code}`, pem);
      expect([res.status, res.body.code]).toEqual([400, code]);
    }
    const badId = await register(
      'has spaces',
      rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    );
    expect([badId.status, badId.body.code]).toEqual([400, 'validation_failed']);
  });

  it('should refuse a known id with another key (409) until an audited admin rotation', async () => {
    const deviceId = await opensslDevice();
    const other = new OpensslKiosk();
    try {
      const conflict = await register(deviceId, other.publicKeyPem());
      expect([conflict.status, conflict.body.code]).toEqual([409, 'device_key_conflict']);
      expect((await register(deviceId, kiosk.publicKeyPem())).status).toBe(200);
      const byProvisioner = await http(t.baseUrl, 'POST', `/api/kiosks/${deviceId}/rotate-key`, {
        key: t.keys.provisioner,
        body: { public_key: other.publicKeyPem(), reason: 'board replaced' },
      });
      expect(byProvisioner.status).toBe(403);
      const rotated = await http(t.baseUrl, 'POST', `/api/kiosks/${deviceId}/rotate-key`, {
        key: t.keys.admin,
        body: { public_key: other.publicKeyPem(), reason: 'board replaced' },
      });
      expect(rotated.status).toBe(200);
      const events = await http(t.baseUrl, 'GET', `/api/kiosks/${deviceId}/events`, {
        key: t.keys.auditor,
      });
      expect(events.body.map((e: { action: string }) => e.action)).toEqual([
        'registered',
        'key_rotated',
      ]);
      expect(events.body[1]).toMatchObject({
        reason: 'board replaced',
        actor: expect.stringMatching(/^admin:[0-9a-f]{12}$/),
      });
      // the old key no longer opens challenges; the new one does
      const { body } = await generate(deviceId);
      expect(() => kiosk.decryptChallenge(body.qr_payload.challenge)).toThrow();
      expect(
        (await validate(body.qr_payload.bson_id, other.decryptChallenge(body.qr_payload.challenge)))
          .status,
      ).toBe(200);
    } finally {
      other.dispose();
    }
  });

  it('should refuse one kiosk key under a second device_id (409 public_key_in_use), in a rotation too', async () => {
    const first = await opensslDevice();
    const taken = kiosk.publicKeyPem();
    const second = await register('TEE-OSSL-SECOND', taken);
    expect([second.status, second.body.code]).toEqual([409, 'public_key_in_use']);
    expect(second.body.message).toContain(first);
    expect(
      (await http(t.baseUrl, 'GET', '/api/kiosks/TEE-OSSL-SECOND', { key: t.keys.admin })).status,
    ).toBe(404);
    // the same id with its key stays idempotent
    expect((await register(first, taken)).status).toBe(200);
    const other = await opensslDevice();
    const rotated = await http(t.baseUrl, 'POST', `/api/kiosks/${other}/rotate-key`, {
      key: t.keys.admin,
      body: { public_key: taken, reason: 'board replaced' },
    });
    expect([rotated.status, rotated.body.code]).toEqual([409, 'public_key_in_use']);
  });

  it('should refuse challenges for a blocked kiosk and unknown kiosks', async () => {
    const deviceId = await opensslDevice();
    const { body } = await generate(deviceId);
    const blocked = await http(t.baseUrl, 'POST', `/api/kiosks/${deviceId}/block`, {
      key: t.keys.admin,
      body: { reason: 'stolen' },
    });
    expect(blocked.body.status).toBe('blocked');
    expect((await generate(deviceId)).body.code).toBe('device_blocked');
    expect(
      (await validate(body.qr_payload.bson_id, kiosk.decryptChallenge(body.qr_payload.challenge)))
        .body.code,
    ).toBe('device_blocked');
    expect((await generate('TEE-NEVER-SEEN')).body.code).toBe('device_not_found');
  });

  it('should refuse a challenge issued before a key rotation, even to the old key (410 challenge_revoked)', async () => {
    const deviceId = await opensslDevice();
    const before = (await generate(deviceId)).body;
    const other = new OpensslKiosk();
    try {
      const rotated = await http(t.baseUrl, 'POST', `/api/kiosks/${deviceId}/rotate-key`, {
        key: t.keys.admin,
        body: { public_key: other.publicKeyPem(), reason: 'board replaced' },
      });
      expect(rotated.status).toBe(200);
      const res = await validate(
        before.qr_payload.bson_id,
        kiosk.decryptChallenge(before.qr_payload.challenge),
      );
      expect([res.status, res.body.code]).toEqual([410, 'challenge_revoked']);
      expect(JSON.stringify(res.body)).not.toContain(WIFI_PASSWORD);
      const after = (await generate(deviceId)).body;
      expect(
        (
          await validate(
            after.qr_payload.bson_id,
            other.decryptChallenge(after.qr_payload.challenge),
          )
        ).status,
      ).toBe(200);
    } finally {
      other.dispose();
    }
  });

  it('should release nothing when a key rotation commits while the challenge is redeemed (410 challenge_revoked)', async () => {
    const deviceId = await opensslDevice();
    const { body } = await generate(deviceId);
    const other = new OpensslKiosk();
    const challenges = t.app.get(WifiChallengeRepository, { strict: false });
    const markUsed = challenges.markUsed.bind(challenges);
    // the rotation lands after the redemption read the kiosk, before it spends the challenge
    const spy = jest.spyOn(challenges, 'markUsed').mockImplementationOnce(async (id, now) => {
      const rotated = await http(t.baseUrl, 'POST', `/api/kiosks/${deviceId}/rotate-key`, {
        key: t.keys.admin,
        body: { public_key: other.publicKeyPem(), reason: 'board replaced' },
      });
      expect(rotated.status).toBe(200);
      return markUsed(id, now);
    });
    try {
      const res = await validate(
        body.qr_payload.bson_id,
        kiosk.decryptChallenge(body.qr_payload.challenge),
      );
      expect(spy).toHaveBeenCalledTimes(1);
      expect([res.status, res.body.code]).toEqual([410, 'challenge_revoked']);
      expect(JSON.stringify(res.body)).not.toContain(WIFI_PASSWORD);
    } finally {
      spy.mockRestore();
      other.dispose();
    }
  });

  it('should leave a challenge open when its password is sealed under a key version this server lacks (503 key_unavailable)', async () => {
    const deviceId = await opensslDevice();
    const { body } = await generate(deviceId);
    const id = body.qr_payload.bson_id;
    const answer = kiosk.decryptChallenge(body.qr_payload.challenge);
    const challenges = t.app.get(WifiChallengeRepository, { strict: false });
    const sealed = (await challenges.findById(id))!.wifiPasswordSealed;
    const parts = sealed.split('.');
    parts[1] = 'v-not-held';
    const set = (value: string) =>
      storeSet(t, 'wifi_challenges', id, {
        sqlite: { wifi_password_sealed: value },
        mongo: { wifiPasswordSealed: value },
      });
    await set(parts.join('.'));
    const refused = await validate(id, answer);
    expect([refused.status, refused.body.code]).toEqual([503, 'key_unavailable']);
    // a server holding the version (here: the value as it was) still releases it, once
    await set(sealed);
    const res = await validate(id, answer);
    expect(res.status).toBe(200);
    expect(res.body.wifi_credentials.password).toBe(WIFI_PASSWORD);
  });

  it('should write one block of two racing for a kiosk, and log the other as unchanged in one line', async () => {
    const deviceId = await opensslDevice();
    const devices = t.app.get(KioskDeviceRepository, { strict: false });
    const setStatus = devices.setStatus.bind(devices);
    // both requests read the kiosk active before either writes: held until both are here
    let arrived = 0;
    let release!: () => void;
    const bothHere = new Promise<void>((resolve) => (release = resolve));
    const spy = jest.spyOn(devices, 'setStatus').mockImplementation(async (...args) => {
      if (++arrived === 2) release();
      await bothHere;
      return setStatus(...args);
    });
    const block = () =>
      http(t.baseUrl, 'POST', `/api/kiosks/${deviceId}/block`, {
        key: t.keys.admin,
        body: { reason: 'reported stolen' },
      });
    try {
      const answers = await Promise.all([block(), block()]);
      expect(arrived).toBe(2);
      for (const res of answers) expect([res.status, res.body.status]).toEqual([200, 'blocked']);
    } finally {
      spy.mockRestore();
    }
    const events = await http(t.baseUrl, 'GET', `/api/kiosks/${deviceId}/events`, {
      key: t.keys.admin,
    });
    expect(JSON.stringify(events.body).match(/"blocked"/g)).toHaveLength(1);
    const lines = t
      .logs()
      .split('\n')
      .filter((l) => l.includes(deviceId) && l.includes('Kiosk status'));
    expect(lines.filter((l) => l.includes('Kiosk status changed'))).toHaveLength(1);
    const unchanged = lines.filter((l) => l.includes('another request set it first'));
    expect(unchanged).toHaveLength(1);
    expect(unchanged[0]).not.toContain('BEGIN PUBLIC KEY');
  });

  it('should refuse a challenge issued before a block, after the unblock too', async () => {
    const deviceId = await opensslDevice();
    const { body } = await generate(deviceId);
    for (const action of ['block', 'unblock']) {
      const res = await http(t.baseUrl, 'POST', `/api/kiosks/${deviceId}/${action}`, {
        key: t.keys.admin,
        body: { reason: 'reported stolen, then found' },
      });
      expect(res.status).toBe(200);
    }
    const res = await validate(
      body.qr_payload.bson_id,
      kiosk.decryptChallenge(body.qr_payload.challenge),
    );
    expect([res.status, res.body.code]).toEqual([410, 'challenge_revoked']);
    const fresh = (await generate(deviceId)).body;
    expect(
      (await validate(fresh.qr_payload.bson_id, kiosk.decryptChallenge(fresh.qr_payload.challenge)))
        .status,
    ).toBe(200);
  });

  it("should release nothing for a challenge row changed in the database (an answer hash of the editor's choosing, a spent one put back)", async () => {
    const deviceId = await opensslDevice();
    const { body } = await generate(deviceId);
    const id = body.qr_payload.bson_id;
    const answer = kiosk.decryptChallenge(body.qr_payload.challenge);
    expect((await validate(id, answer)).status).toBe(200);
    // someone with the database but not the kiosk's key: the spent challenge reopened, the
    // answer's hash replaced by one of bytes they chose, the expiry pushed out
    const chosen = Buffer.alloc(32, 7);
    const later = new Date(Date.now() + 60 * 60 * 1000);
    const hash = createHash('sha256').update(chosen).digest();
    await storeSet(t, 'wifi_challenges', id, {
      sqlite: {
        answer_hash: hash as never,
        status: 'pending',
        used_at: null,
        expires_at: later.toISOString(),
      },
      mongo: { answerHash: hash, status: 'pending', usedAt: null, expiresAt: later },
    });
    const res = await validate(id, chosen);
    expect([res.status, res.body.code]).toEqual([401, 'challenge_mismatch']);
    expect(JSON.stringify(res.body)).not.toContain(WIFI_PASSWORD);
    expect(t.logs()).toContain("ALARM: a Wi-Fi challenge's tag does not verify");
    // the kiosk's own answer to a fresh challenge still works
    const fresh = (await generate(deviceId)).body;
    expect(
      (await validate(fresh.qr_payload.bson_id, kiosk.decryptChallenge(fresh.qr_payload.challenge)))
        .status,
    ).toBe(200);
  });

  it('should keep the Wi-Fi password out of the store and the logs', async () => {
    const dump = await storeDump(t);
    expect(dump.includes(Buffer.from('wifi_challenges'))).toBe(true);
    expect(dump.includes(Buffer.from(WIFI_PASSWORD))).toBe(false);
    const logs = t.logs();
    expect(logs).toContain('Wi-Fi credentials released');
    expect(logs).not.toContain(WIFI_PASSWORD);
  });
});
