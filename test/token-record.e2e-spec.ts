import { createPrivateKey, KeyObject, randomUUID, sign } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '@app/common';
import { MongoStore, SqliteStore, Store } from '@app/persistence';
import { rotateLocalKeys } from '@app/api/config/key-rotation';
import { describeReplicas, http, secretsOf, startTestApp, TestApp } from './support/test-app';
import { createSite } from './support/timesheet-client';
import {
  enrollPhone,
  nextPhoneNumber,
  Phone,
  refreshToken,
  signPacket,
  syncBatch,
} from './support/worker-client';

const DAY_S = 86_400;

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

/** An offline token made by whoever holds `key`: any claims, any `iat`. */
function forge(
  key: KeyObject,
  kid: string,
  phone: Phone,
  claims: { iat: number; exp?: number; siteIds?: string[]; jti?: string },
): string {
  const header = b64({ alg: 'ES256', typ: 'JWT', kid });
  const payload = b64({
    iss: 'mdai',
    sub: phone.deviceId,
    typ: 'mdai.offline+jwt',
    deviceId: phone.deviceId,
    workerId: phone.workerId,
    siteIds: claims.siteIds ?? [phone.siteId],
    iat: claims.iat,
    nbf: claims.iat,
    exp: claims.exp ?? claims.iat + 30 * DAY_S,
    jti: claims.jti ?? randomUUID(),
  });
  const signature = sign('sha256', Buffer.from(`${header}.${payload}`), {
    key,
    dsaEncoding: 'ieee-p1363',
  });
  return `${header}.${payload}.${signature.toString('base64url')}`;
}

const claimsOf = (token: string) =>
  JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as Record<string, any>;
const kidOf = (token: string) =>
  (JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString()) as { kid: string }).kid;

/** A sync refused as not issued by this server: 403 invalid_token saying why. */
function expectNotIssued(res: { status: number; body: any }): void {
  expect([res.status, res.body.code]).toEqual([403, 'invalid_token']);
  expect(res.body.message).toContain('not_issued');
}

/**
 * The server accepts only offline tokens it issued (each recorded at issue): a stolen token
 * key, retired with KEY_ROTATION_GRACE_SECONDS=0 or still active, mints nothing that syncs,
 * and the claims of a token that syncs (its sites) are the ones we issued.
 */
describe('offline tokens on record (e2e)', () => {
  let dataDir: string;
  let t: TestApp | undefined;
  const env = () => ({ DATA_DIR: dataDir, TRUST_AUTO_BLOCK_FLOOR: '0' });
  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'mdai-tokenrec-'));
  });
  afterEach(async () => {
    const store = t?.app.get(Store);
    if (store instanceof MongoStore) await store.connection.dropDatabase();
    await t?.close();
    t = undefined;
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('should refuse a token forged with the key retired by an emergency rotation (grace 0), backdated into its window and claiming another site, while real tokens keep syncing', async () => {
    t = await startTestApp(env());
    const phone = await enrollPhone(t.baseUrl, t.keys.admin);
    const other = (await createSite(t.baseUrl, t.keys.admin)).siteId;
    const oldKid = kidOf(phone.token);
    const oldKey = createPrivateKey(secretsOf(dataDir).OFFLINE_TOKEN_PRIVATE_KEY);
    await t.close({ keepData: true });
    t = undefined;

    // the key is known to be stolen: rotated with no grace, every replica restarted
    const rotatedAt = new Date();
    rotateLocalKeys(dataDir, ['token'], rotatedAt, 0);
    t = await startTestApp(env());
    const jwks = (await http(t.baseUrl, 'GET', '/api/v5/.well-known/jwks.json')).body.keys;
    expect(jwks[1]).toMatchObject({ kid: oldKid, notAfter: rotatedAt.toISOString() });

    // the tester's token: old key, issued a minute before the rotation, 30 days, both sites
    const iat = Math.floor(rotatedAt.getTime() / 1000) - 60;
    const forged = forge(oldKey, oldKid, phone, { iat, siteIds: [phone.siteId, other] });
    const atOther = signPacket(phone, {
      siteId: other,
      timestamp: new Date(Date.now() - 5_000).toISOString(),
    });
    expectNotIssued(await syncBatch(t.baseUrl, forged, [atOther]));
    // the phone's own jti, re-signed with wider claims, is not the token we issued either
    const sameJti = forge(oldKey, oldKid, phone, {
      iat: claimsOf(phone.token).iat,
      siteIds: [phone.siteId, other],
      jti: claimsOf(phone.token).jti,
    });
    expectNotIssued(await syncBatch(t.baseUrl, sameJti, [atOther]));
    // nothing of it reached the ledger of the other site
    const ledger = await http(t.baseUrl, 'GET', `/api/v5/ledger/${other}/verify`, {
      key: t.keys.auditor,
    });
    expect(ledger.body.length ?? 0).toBe(0);

    // the token the server issued before the rotation still syncs (at its own site)
    const real = await syncBatch(t.baseUrl, phone.token, [signPacket(phone)]);
    expect([real.status, real.body.accepted]).toEqual([200, 1]);
    // the phone refreshes with its secret; the new token (new key) syncs
    const refreshed = await refreshToken(t.baseUrl, phone);
    expect(refreshed.status).toBe(200);
    const token = refreshed.body.offlineToken as string;
    expect(kidOf(token)).toBe(jwks[0].kid);
    const next = await syncBatch(t.baseUrl, token, [signPacket(phone, { type: 'check_out' })]);
    expect([next.status, next.body.accepted]).toEqual([200, 1]);
  });

  it('should refuse a token forged under the active key with a fresh jti, and one that reuses a real jti with other claims', async () => {
    t = await startTestApp(env());
    const phone = await enrollPhone(t.baseUrl, t.keys.admin);
    const other = (await createSite(t.baseUrl, t.keys.admin)).siteId;
    const key = createPrivateKey(secretsOf(dataDir).OFFLINE_TOKEN_PRIVATE_KEY);
    const kid = kidOf(phone.token);
    const iat = Math.floor(Date.now() / 1000) - 60;
    expectNotIssued(
      await syncBatch(t.baseUrl, forge(key, kid, phone, { iat }), [signPacket(phone)]),
    );
    const { jti, iat: realIat } = claimsOf(phone.token);
    const widened = forge(key, kid, phone, { iat: realIat, jti, siteIds: [phone.siteId, other] });
    expectNotIssued(await syncBatch(t.baseUrl, widened, [signPacket(phone, { siteId: other })]));
    // a refused forgery is an invalid_token fraud event naming no device
    const events = await http(t.baseUrl, 'GET', '/api/v5/fraud/events?type=invalid_token', {
      key: t.keys.admin,
    });
    expect(events.status).toBe(200);
    expect(JSON.stringify(events.body)).toContain('not_issued');

    const real = await syncBatch(t.baseUrl, phone.token, [signPacket(phone)]);
    expect([real.status, real.body.accepted]).toEqual([200, 1]);
  });

  it('should accept a token issued before recording began until the token key rotates, and bound what such a token may claim', async () => {
    const clock = new ManualClock(new Date(Math.floor(Date.now() / 1000) * 1000 - 3_600_000));
    const issued = clock.now();
    t = await startTestApp(env(), { clock });
    const phone = await enrollPhone(t.baseUrl, t.keys.admin);
    const key = createPrivateKey(secretsOf(dataDir).OFFLINE_TOKEN_PRIVATE_KEY);
    const kid = kidOf(phone.token);
    // behind the app's back: the store as a build from before the record left it
    const store = t.app.get(Store);
    if (store instanceof MongoStore) {
      await store.connection.collection('offline_tokens').drop();
      await store.connection.collection('offline_token_recording').drop();
    } else {
      (store as SqliteStore).db.exec(`
        DROP TABLE offline_tokens;
        DROP TABLE offline_token_recording;
        DROP TABLE offline_token_reopening;
        ALTER TABLE worker_devices DROP COLUMN block_tag;
        ALTER TABLE worker_devices DROP COLUMN block_event_id;
        ALTER TABLE worker_device_events DROP COLUMN tag;
        DROP TABLE worker_device_seal;
        DROP INDEX worker_device_events_device_written;
        DELETE FROM schema_migrations WHERE scope = 'device-trust.worker-devices' AND version >= 5;
      `);
    }
    await t.close({ keepData: true });

    // the upgrade, 10 minutes later: recording begins now
    clock.set(new Date(issued.getTime() + 600_000));
    t = await startTestApp(env(), { clock });
    const packet = () =>
      signPacket(phone, { timestamp: new Date(clock.now().getTime() - 5_000).toISOString() });
    const before = await syncBatch(t.baseUrl, phone.token, [packet()]);
    expect([before.status, before.body.accepted]).toEqual([200, 1]);
    // not on record and issued since recording began (as an older replica does while a rolling
    // upgrade goes on): accepted during the transition as well
    const since = Math.floor(clock.now().getTime() / 1000);
    const duringUpgrade = await syncBatch(t.baseUrl, forge(key, kid, phone, { iat: since }), [
      packet(),
    ]);
    expect([duringUpgrade.status, duringUpgrade.body.accepted]).toEqual([200, 1]);
    // from before, but lasting longer than a token we issue (OFFLINE_TOKEN_TTL_DAYS): refused
    const longer = forge(key, kid, phone, {
      iat: since - 300,
      exp: since - 300 + 31 * DAY_S,
    });
    expectNotIssued(await syncBatch(t.baseUrl, longer, [packet()]));
    // a token lifetime and its grace after recording began (30 + 14 days, and a day's margin):
    // the transition is over, a token not on record is refused whoever signed it
    const restartAt = clock.now();
    clock.set(new Date(restartAt.getTime() + 46 * DAY_S * 1000));
    const late = Math.floor(clock.now().getTime() / 1000);
    expectNotIssued(await syncBatch(t.baseUrl, forge(key, kid, phone, { iat: late }), [packet()]));
    clock.set(restartAt);
    // a refreshed token is on record
    const refreshed = await refreshToken(t.baseUrl, phone, clock.now().toISOString());
    expect(refreshed.status).toBe(200);
    const recorded = refreshed.body.offlineToken as string;
    await t.close({ keepData: true });

    // the token key rotates (a routine one, with its grace): the old key's tokens not on
    // record are refused from now on; its recorded ones still sync
    clock.set(new Date(clock.now().getTime() + 600_000));
    rotateLocalKeys(dataDir, ['token'], clock.now());
    t = await startTestApp(env(), { clock });
    expectNotIssued(await syncBatch(t.baseUrl, phone.token, [packet()]));
    const still = await syncBatch(t.baseUrl, recorded, [packet()]);
    expect([still.status, still.body.accepted]).toEqual([200, 1]);
  });
});

/** mdai_token_records_dropped_total as /metrics shows it. */
async function droppedOnMetrics(t: TestApp): Promise<number | undefined> {
  const res = await fetch(`${t.baseUrl}/metrics`);
  expect(res.status).toBe(200);
  const line = (await res.text())
    .split('\n')
    .find((l) => l.startsWith('mdai_token_records_dropped_total '));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
}

/**
 * OFFLINE_TOKEN_RECORDS_PER_DEVICE bounds the records of one device (refreshes add one each):
 * past it, the records no sync presented go first (answers the phone never got, a looping
 * app's), so the token a phone synced with, and may still hold punches under, stays longest.
 */
describe('token records per device (e2e)', () => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('should drop the oldest tokens no sync presented first, then the oldest presented, never the new one', async () => {
    // a second between refreshes: a token's iat, its age, is in whole seconds
    const clock = new ManualClock(new Date(Math.floor(Date.now() / 1000) * 1000));
    t = await startTestApp(
      { OFFLINE_TOKEN_RECORDS_PER_DEVICE: '3', TRUST_AUTO_BLOCK_FLOOR: '0' },
      { clock },
    );
    const phone = await enrollPhone(t.baseUrl, t.keys.admin);
    const sync = (token: string) =>
      syncBatch(t!.baseUrl, token, [
        signPacket(phone, { timestamp: new Date(clock.now().getTime() - 5_000).toISOString() }),
      ]);
    const accepted = (res: { status: number; body: any }) =>
      expect([res.status, res.body.accepted]).toEqual([200, 1]);
    const refresh = async () => {
      clock.advance(1_000);
      const res = await refreshToken(t!.baseUrl, phone, clock.now().toISOString());
      expect(res.status).toBe(200);
      return res.body.offlineToken as string;
    };
    accepted(await sync(phone.token));
    // four refreshes the phone never saw the answer of (or a looping app's)
    const [first, second, third, fourth] = [
      await refresh(),
      await refresh(),
      await refresh(),
      await refresh(),
    ];
    // the registration's token, presented by a sync, stays: its punches still sync
    accepted(await sync(phone.token));
    expectNotIssued(await sync(first));
    expectNotIssued(await sync(second));
    accepted(await sync(third));
    accepted(await sync(fourth));
    expect(t.logs()).toContain('Token records of a device past OFFLINE_TOKEN_RECORDS_PER_DEVICE');
    // counted for an operator's alert: the first and the second
    expect(await droppedOnMetrics(t)).toBe(2);
    // every record presented now: the next refresh drops the oldest presented one
    const fifth = await refresh();
    expectNotIssued(await sync(phone.token));
    for (const token of [third, fourth, fifth]) accepted(await sync(token));
    expect(await droppedOnMetrics(t)).toBe(3);
  });

  it('should refuse a bound below 2 at boot', async () => {
    const outcome = await startTestApp({ OFFLINE_TOKEN_RECORDS_PER_DEVICE: '1' }).then(
      async (started) => {
        await started.close();
        return 'started';
      },
      (error: unknown) => String(error),
    );
    expect(outcome).toContain('OFFLINE_TOKEN_RECORDS_PER_DEVICE');
  });
});

/**
 * Makes the store refuse every new token record (and nothing else): a unique index on the key
 * id, which the record already stored holds. Undone by the function returned.
 */
async function failTokenRecords(t: TestApp): Promise<() => Promise<void>> {
  const store = t.app.get(Store);
  if (store instanceof MongoStore) {
    const records = store.connection.collection('offline_tokens');
    await records.createIndex({ keyId: 1 }, { unique: true, name: 'fault' });
    return async () => {
      await records.dropIndex('fault');
    };
  }
  const db = (store as SqliteStore).db;
  db.exec('CREATE UNIQUE INDEX fault ON offline_tokens (kid)');
  return async () => {
    db.exec('DROP INDEX fault');
  };
}

describe('a registration whose token cannot be recorded (e2e)', () => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('should store no device and leave the enrollment code usable, so the phone registers with it once the store records again', async () => {
    t = await startTestApp();
    const first = await enrollPhone(t.baseUrl, t.keys.admin);
    const worker = await http(t.baseUrl, 'POST', '/api/v5/workers', {
      key: t.keys.admin,
      body: { name: 'Ravi Kumar', phone: nextPhoneNumber(), siteIds: [first.siteId] },
    });
    expect(worker.status).toBe(201);
    const register = () =>
      http(t!.baseUrl, 'POST', '/api/v5/device/register', {
        body: {
          enrollmentCode: worker.body.enrollmentCode,
          fingerprint: { os: 'Android 14', model: 'Redmi Note 12', simHash: 'f00dfeedcafe0002' },
        },
      });
    const restore = await failTokenRecords(t);
    const failed = await register();
    await restore();
    expect(failed.status).toBeGreaterThanOrEqual(500);
    const devices = () =>
      http(t!.baseUrl, 'GET', `/api/v5/devices?workerId=${worker.body.workerId}`, {
        key: t!.keys.admin,
      });
    expect((await devices()).body).toEqual([]);

    // the same code again: registered, and its token syncs
    const again = await register();
    expect(again.status).toBe(201);
    const phone = {
      deviceId: again.body.deviceId,
      workerId: worker.body.workerId,
      siteId: first.siteId,
      secret: Buffer.from(again.body.deviceSecret, 'base64'),
      token: again.body.offlineToken,
      tokenExpiresAt: again.body.offlineTokenExpiresAt,
      trustScore: again.body.trustScore,
    };
    const synced = await syncBatch(t.baseUrl, phone.token, [signPacket(phone)]);
    expect([synced.status, synced.body.accepted]).toEqual([200, 1]);
    expect((await devices()).body.map((d: { deviceId: string }) => d.deviceId)).toEqual([
      phone.deviceId,
    ]);
  });
});

describeReplicas('offline tokens on record, two replicas (e2e)', (replicas) => {
  it('should sync on one replica a token the other issued, and refuse there a forgery of the shared key', async () => {
    const { a, b } = replicas();
    const phone = await enrollPhone(a.baseUrl, a.keys.admin);
    const synced = await syncBatch(b.baseUrl, phone.token, [signPacket(phone)]);
    expect([synced.status, synced.body.accepted]).toEqual([200, 1]);
    const refreshed = await refreshToken(b.baseUrl, phone);
    const next = signPacket(phone, { type: 'check_out' });
    const again = await syncBatch(a.baseUrl, refreshed.body.offlineToken as string, [next]);
    expect([again.status, again.body.accepted]).toEqual([200, 1]);
    const key = createPrivateKey(secretsOf(a.dataDir).OFFLINE_TOKEN_PRIVATE_KEY);
    const forged = forge(key, kidOf(phone.token), phone, { iat: Math.floor(Date.now() / 1000) });
    expectNotIssued(await syncBatch(b.baseUrl, forged, [signPacket(phone)]));
  });
});
