import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rotateLocalKeys } from '@app/api/config/key-rotation';
import { imageBytes } from './support/image-bytes';
import { http, startTestApp, TestApp } from './support/test-app';
import { enrollPhone, Phone, refreshToken, signPacket, syncBatch } from './support/worker-client';

const secretsFile = (dataDir: string) => join(dataDir, 'secrets.json');
const secretsOf = (dataDir: string) =>
  JSON.parse(readFileSync(secretsFile(dataDir), 'utf8')) as Record<string, string>;

/**
 * `npm run keys:rotate` as the README has it, with the servers running: the replicas keep
 * signing with the old keys until they are restarted. What they sign meanwhile (checkpoints,
 * refreshed tokens) must verify after the restart; what a key signs after its window (the
 * rotation's grace) is named as such, and a server that knows its own key is past its window
 * says so.
 */
describe('keys:rotate while the servers run (e2e)', () => {
  let dataDir: string;
  let t: TestApp | undefined;
  const env = () => ({ DATA_DIR: dataDir, TRUST_AUTO_BLOCK_FLOOR: '0' });
  const refresh = (phone: Phone) => refreshToken(t!.baseUrl, phone);
  const storeImage = () =>
    http(t!.baseUrl, 'POST', '/api/v5/vault', {
      key: t!.keys.admin,
      rawBody: imageBytes('image/jpeg', 500),
      headers: { 'content-type': 'image/jpeg' },
    });
  const verifyLedger = (siteId: string) =>
    http(t!.baseUrl, 'GET', `/api/v5/ledger/${siteId}/verify`, { key: t!.keys.auditor });
  const verifyAudit = () =>
    http(t!.baseUrl, 'GET', '/api/v5/vault/audit/verify', { key: t!.keys.auditor });

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'mdai-rotation-live-'));
  });
  afterEach(async () => {
    await t?.close();
    t = undefined;
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('should verify the checkpoints and sync the tokens a server signs between the rotation and its restart', async () => {
    t = await startTestApp(env());
    const phone = await enrollPhone(t.baseUrl, t.keys.admin);
    expect((await syncBatch(t.baseUrl, phone.token, [signPacket(phone)])).status).toBe(200);
    expect((await storeImage()).status).toBe(201);

    // the operator rotates both keys; this server is not restarted yet
    rotateLocalKeys(dataDir, ['token', 'log'], new Date());
    const refreshed = await refresh(phone);
    expect(refreshed.status).toBe(200);
    const token = refreshed.body.offlineToken as string;
    const punch = signPacket(phone, { timestamp: new Date().toISOString() });
    const synced = await syncBatch(t.baseUrl, token, [punch]);
    expect(synced.status).toBe(200);
    expect(synced.body.accepted).toBe(1);
    expect((await storeImage()).status).toBe(201);
    // a punch recorded offline under the refreshed token, to be synced after the restart
    const offline = signPacket(phone, { timestamp: new Date().toISOString() });
    await t.close({ keepData: true });

    // restarted on the new keys: everything the old key signed before the restart verifies
    t = await startTestApp(env());
    const ledger = await verifyLedger(phone.siteId);
    expect(ledger.body).toMatchObject({ ok: true, length: 2, checkpointsChecked: 2 });
    const audit = await verifyAudit();
    expect(audit.body.ok).toBe(true);
    const later = await syncBatch(t.baseUrl, token, [offline]);
    expect(later.status).toBe(200);
    expect(later.body.accepted).toBe(1);
    expect((await verifyLedger(phone.siteId)).body).toMatchObject({ ok: true, length: 3 });
  });

  it('should name a checkpoint and a token signed by a retired key after its window key_outside_window, and refuse to boot a server whose own history retired its key already', async () => {
    t = await startTestApp(env());
    const phone = await enrollPhone(t.baseUrl, t.keys.admin);
    const old = secretsOf(dataDir);
    // no grace: the old key's window ends at the rotation (a second ago: the refreshed token's
    // iat, whole seconds, is after it)
    rotateLocalKeys(dataDir, ['token', 'log'], new Date(Date.now() - 1000), 0);
    const rotated = secretsOf(dataDir);
    const refreshed = await refresh(phone);
    expect(refreshed.status).toBe(200);
    expect((await syncBatch(t.baseUrl, phone.token, [signPacket(phone)])).status).toBe(200);
    await t.close({ keepData: true });

    // a replica restarted with the history but still the old private keys (half the new values),
    // the window already over: it would sign checkpoints and tokens that never verify, so it
    // does not start, naming both variables and what to do (never a key)
    const halfNew = {
      ...rotated,
      TLOG_SIGNING_KEY: old.TLOG_SIGNING_KEY,
      OFFLINE_TOKEN_PRIVATE_KEY: old.OFFLINE_TOKEN_PRIVATE_KEY,
    };
    writeFileSync(secretsFile(dataDir), JSON.stringify(halfNew));
    const failed = await startTestApp(env()).then(
      async (app) => {
        await app.close({ keepData: true });
        return undefined;
      },
      (error: Error) => error,
    );
    expect(failed?.name).toBe('ConfigError');
    expect(failed?.message).toContain(
      'TLOG_SIGNING_KEY: is a key TLOG_RETIRED_KEYS retires, its window ended',
    );
    expect(failed?.message).toContain(
      'OFFLINE_TOKEN_PRIVATE_KEY: is a key OFFLINE_TOKEN_RETIRED_KEYS retires, its window ended',
    );
    expect(failed?.message).toContain('Set TLOG_SIGNING_KEY to the new key of that rotation');
    for (const secret of [old.TLOG_SIGNING_KEY, old.OFFLINE_TOKEN_PRIVATE_KEY]) {
      const body = secret.replace(/-----[^-]+-----|\\n|\s/g, '');
      expect(failed?.message).not.toContain(body.slice(-24));
    }

    // on the new keys: the reasons name the key's window, not a bad signature
    writeFileSync(secretsFile(dataDir), JSON.stringify(rotated));
    t = await startTestApp(env());
    expect((await http(t.baseUrl, 'GET', '/health')).status).toBe(200);
    expect((await verifyLedger(phone.siteId)).body).toMatchObject({
      ok: false,
      reason: 'key_outside_window',
      brokenAtSeq: 1,
    });
    const refused = await syncBatch(t.baseUrl, refreshed.body.offlineToken, [signPacket(phone)]);
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ code: 'invalid_token' });
    expect(refused.body.message).toContain('key_outside_window');
  });

  it('should start a server whose own history retires its key while the window still runs (the grace)', async () => {
    t = await startTestApp(env());
    const old = secretsOf(dataDir);
    await t.close({ keepData: true });
    // rotated now, an hour's grace: the old key's window ends in an hour
    rotateLocalKeys(dataDir, ['token', 'log'], new Date(), 3600);
    writeFileSync(
      secretsFile(dataDir),
      JSON.stringify({
        ...secretsOf(dataDir),
        TLOG_SIGNING_KEY: old.TLOG_SIGNING_KEY,
        OFFLINE_TOKEN_PRIVATE_KEY: old.OFFLINE_TOKEN_PRIVATE_KEY,
      }),
    );
    t = await startTestApp(env());
    // what it signs until then verifies: healthy (it degrades once the window ends)
    expect((await http(t.baseUrl, 'GET', '/health')).status).toBe(200);
    const phone = await enrollPhone(t.baseUrl, t.keys.admin);
    expect((await syncBatch(t.baseUrl, phone.token, [signPacket(phone)])).status).toBe(200);
    expect((await verifyLedger(phone.siteId)).body).toMatchObject({ ok: true, length: 1 });
  });
});
