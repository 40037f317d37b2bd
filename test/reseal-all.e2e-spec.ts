import { constants, privateDecrypt } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ResealAllJob } from '@app/api/reseal-all.job';
import { SessionService } from '@app/session';
import { generateKeyPairSync } from 'node:crypto';
import { http, startTestApp, TestApp } from './support/test-app';
import { enrollPhone, signPacket, syncBatch } from './support/worker-client';
import { jpegBytes } from './support/image-bytes';

const masterKey = (byte: number) => Buffer.alloc(32, byte).toString('base64');

describe('reseal everything, then drop the old master key (e2e)', () => {
  let dataDir: string;
  let t: TestApp | undefined;
  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'mdai-reseal-'));
  });
  afterEach(async () => {
    await t?.close();
    t = undefined;
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('should open every sealed value of every module after a reseal-all and a restart with the new key only', async () => {
    const boot = (VAULT_KEYS: string) =>
      startTestApp({ DATA_DIR: dataDir, VAULT_KEYS, TRUST_AUTO_BLOCK_FLOOR: '0' });
    t = await boot(`v1:${masterKey(1)}`);
    // one sealed value of each kind, all under v1
    const image = jpegBytes(2000);
    const fileId = (
      await http(t.baseUrl, 'POST', '/api/v5/vault', {
        key: t.keys.admin,
        rawBody: image,
        headers: { 'content-type': 'image/jpeg' },
      })
    ).body.fileId;
    const phone = await enrollPhone(t.baseUrl, t.keys.admin);
    const kioskKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
    expect(
      (
        await http(t.baseUrl, 'POST', '/api/register-device', {
          key: t.keys.provisioner,
          body: {
            device_id: 'TEE-RESEAL-1',
            public_key: kioskKey.publicKey.export({ type: 'spki', format: 'pem' }),
          },
        })
      ).status,
    ).toBe(201);
    const challenge = await http(t.baseUrl, 'POST', '/api/generate-challenge', {
      key: t.keys.admin,
      body: { device_id: 'TEE-RESEAL-1', wifi_ssid: 'Yard', wifi_password: 'correct horse 42' },
    });
    expect(challenge.status).toBe(200);
    const session = await http(t.baseUrl, 'POST', '/api/auth/mobile', {
      headers: { 'x-api-key': t.keys.mobile },
      body: { user_id: 'u-1', platform_id: 'PLT_reseal0000000001' },
    });
    expect(session.status).toBe(201);
    await t.close({ keepData: true });

    // rotate: v2 is active, v1 still listed; reseal everything
    t = await boot(`v1:${masterKey(1)},v2:${masterKey(2)}`);
    const report = await t.app.get(ResealAllJob).run();
    expect(report.activeVersion).toBe('v2');
    expect(report.owners.map((o) => [o.owner, o.resealed, o.failed.length])).toEqual([
      ['vault data keys', 1, 0],
      ['worker-device secrets', 1, 0],
      ['wifi passwords', 1, 0],
      ['session platform ids', 1, 0],
    ]);
    expect(report.droppable).toEqual(['v1']);
    expect((await t.app.get(ResealAllJob).run()).owners.every((o) => o.resealed === 0)).toBe(true);
    await t.close({ keepData: true });

    // drop v1 and restart: every value still opens
    t = await boot(`v2:${masterKey(2)}`);
    const read = await fetch(`${t.baseUrl}/api/v5/vault/${fileId}`, {
      headers: { 'x-api-key': t.keys.auditor, 'x-access-purpose': 'after reseal' },
    });
    expect(read.status).toBe(200);
    expect(Buffer.from(await read.arrayBuffer()).equals(image)).toBe(true);
    const synced = await syncBatch(t.baseUrl, phone.token, [signPacket(phone)]);
    expect(synced.status).toBe(200);
    expect(synced.body.accepted).toBe(1); // the device secret opened: the HMAC checked out
    const answer = privateDecrypt(
      {
        key: kioskKey.privateKey,
        padding: constants.RSA_PKCS1_OAEP_PADDING,
        oaepHash: 'sha256',
      },
      Buffer.from(challenge.body.qr_payload.challenge, 'base64'),
    );
    const wifi = await http(t.baseUrl, 'POST', '/api/validate-challenge', {
      body: {
        bson_id: challenge.body.qr_payload.bson_id,
        challenge_response: answer.toString('base64'),
      },
    });
    expect(wifi.status).toBe(200);
    expect(wifi.body.wifi_credentials.password).toBe('correct horse 42');
    const sessions = t.app.get(SessionService);
    const stored = await sessions.find(session.body.session_id);
    expect(sessions.platformIdOf(stored!)).toBe('PLT_reseal0000000001');
  });
});
