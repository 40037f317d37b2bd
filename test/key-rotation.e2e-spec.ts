import { createPrivateKey, randomUUID, sign } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rotateLocalKeys } from '@app/api/config/key-rotation';
import { http, secretsOf, startTestApp, TestApp } from './support/test-app';
import { checkpointSignedBy } from './support/tlog-check';
import { enrollPhone, signPacket, syncBatch } from './support/worker-client';

describe('key rotation with key history (e2e)', () => {
  let dataDir: string;
  let t: TestApp | undefined;
  const env = () => ({ DATA_DIR: dataDir, TRUST_AUTO_BLOCK_FLOOR: '0' });
  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'mdai-rotation-'));
  });
  afterEach(async () => {
    await t?.close();
    t = undefined;
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('should keep old tokens and checkpoints verifiable after rotating both keys and restarting with the new keys and the history only', async () => {
    t = await startTestApp(env());
    const phone = await enrollPhone(t.baseUrl, t.keys.admin);
    const before = await syncBatch(t.baseUrl, phone.token, [signPacket(phone), signPacket(phone)]);
    expect(before.status).toBe(200);
    const oldCheckpoint = before.body.checkpoints[0].note as string;
    const oldJwks = (await http(t.baseUrl, 'GET', '/api/v5/.well-known/jwks.json')).body.keys;
    const oldLogKeys = (await http(t.baseUrl, 'GET', '/api/v5/tlog/keys')).body.keys;
    const oldSecrets = secretsOf(dataDir);
    await t.close({ keepData: true });
    t = undefined;

    const rotatedAt = new Date();
    rotateLocalKeys(dataDir, ['token', 'log'], rotatedAt);
    const secrets = secretsOf(dataDir);
    expect(secrets.OFFLINE_TOKEN_PRIVATE_KEY).not.toBe(oldSecrets.OFFLINE_TOKEN_PRIVATE_KEY);
    expect(secrets.TLOG_SIGNING_KEY).not.toBe(oldSecrets.TLOG_SIGNING_KEY);
    expect(JSON.stringify(secrets)).not.toContain(oldSecrets.TLOG_SIGNING_KEY.split('\n')[1]);

    t = await startTestApp(env());
    // the JWKS and the checkpoint-key list hold the new key and the retired one with its window
    const jwks = (await http(t.baseUrl, 'GET', '/api/v5/.well-known/jwks.json')).body.keys;
    expect(jwks.map((k: any) => k.status)).toEqual(['active', 'retired']);
    // the retired key's window runs on for the grace (an hour): replicas not yet restarted
    const graceEnds = new Date(rotatedAt.getTime() + 3600_000).toISOString();
    expect(jwks[1]).toMatchObject({ kid: oldJwks[0].kid, notAfter: graceEnds });
    expect(jwks[0].kid).not.toBe(oldJwks[0].kid);
    const logKeys = (await http(t.baseUrl, 'GET', '/api/v5/tlog/keys')).body.keys;
    expect(logKeys[1]).toMatchObject({
      status: 'retired',
      publicKey: oldLogKeys[0].publicKey,
      notAfter: graceEnds,
    });
    expect(logKeys[0].notBefore).toBe(rotatedAt.toISOString());

    // the old token still syncs inside its window, and the new checkpoint is by the new key
    const after = await syncBatch(t.baseUrl, phone.token, [signPacket(phone)]);
    expect(after.status).toBe(200);
    expect(after.body.accepted).toBe(1);
    const newCheckpoint = after.body.checkpoints[0].note as string;
    expect(checkpointSignedBy(oldCheckpoint, logKeys[1].publicKey)).toBe(true);
    expect(checkpointSignedBy(newCheckpoint, logKeys[0].publicKey)).toBe(true);
    expect(checkpointSignedBy(newCheckpoint, logKeys[1].publicKey)).toBe(false);
    const verify = await http(t.baseUrl, 'GET', `/api/v5/ledger/${phone.siteId}/verify`, {
      key: t.keys.auditor,
    });
    expect(verify.body).toMatchObject({ ok: true, length: 3, checkpointsChecked: 2 });

    // the retired key verifies nothing it could only have signed after its retirement
    const oldKey = createPrivateKey(oldSecrets.OFFLINE_TOKEN_PRIVATE_KEY);
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const iat = Math.floor(rotatedAt.getTime() / 1000) + 3605; // after the retirement's grace
    const header = b64({ alg: 'ES256', typ: 'JWT', kid: oldJwks[0].kid });
    const payload = b64({
      iss: 'mdai',
      sub: phone.deviceId,
      typ: 'mdai.offline+jwt',
      deviceId: phone.deviceId,
      workerId: phone.workerId,
      siteIds: [phone.siteId],
      iat,
      nbf: iat - 60,
      exp: iat + 3600,
      jti: randomUUID(),
    });
    const forged = `${header}.${payload}.${sign('sha256', Buffer.from(`${header}.${payload}`), {
      key: oldKey,
      dsaEncoding: 'ieee-p1363',
    }).toString('base64url')}`;
    const refused = await syncBatch(t.baseUrl, forged, [signPacket(phone)]);
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('invalid_token');
  });
});
