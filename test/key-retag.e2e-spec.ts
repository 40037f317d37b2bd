import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rotateLocalKeys } from '@app/api/config/key-rotation';
import { readStored, SECRETS_FILE, writeStored } from '@app/common';
import { FraudEvent, FraudService } from '@app/fraud';
import { StoreMac } from '@app/tlog';
import { runScript } from './support/processes';
import { restartApp } from './support/tamper';
import { http, slowOnMongo, startTestApp, storeSet, TestApp } from './support/test-app';
import { enrollPhone, refreshToken } from './support/worker-client';

/**
 * `npm run keys:retag`: fraud events and their reviews carry the server's tag, and store no key
 * id, so once a retired STORE_MAC_KEY was dropped every row tagged under it read `tampered` for
 * good (the docs said to keep every such key forever). The command, run beside the server
 * after a rotation, tags them again under the current key, review chains in order, and never
 * re-tags a row that verifies under no held key. Here on the suite's store, the command a
 * process of its own as an operator runs it.
 */
const id = () => randomBytes(12).toString('hex');

describe('keys:retag (e2e)', () => {
  let dataDir: string;
  let t: TestApp | undefined;
  const env = () => ({ DATA_DIR: dataDir, TRUST_AUTO_BLOCK_FLOOR: '0' });
  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'mdai-retag-'));
  });
  afterEach(async () => {
    await t?.close();
    t = undefined;
    rmSync(dataDir, { recursive: true, force: true });
  });

  const get = (path: string) => http(t!.baseUrl, 'GET', path, { key: t!.keys.admin });
  const review = async (eventId: string, decision: string, reason: string) => {
    const res = await http(t!.baseUrl, 'POST', `/api/v5/fraud/events/${eventId}/review`, {
      key: t!.keys.admin,
      body: { decision, reason },
    });
    expect(res.status).toBe(201);
  };
  const flagged = async (): Promise<FraudEvent> =>
    (await t!.app.get(FraudService).record({
      type: 'impossible_travel',
      deviceId: id(),
      workerId: id(),
      siteId: id(),
      packetId: id(),
      detail: '50 km in a minute',
    }))!;
  const detail = async (eventId: string) => {
    const res = await get(`/api/v5/fraud/events/${eventId}`);
    expect(res.status).toBe(200);
    return {
      integrity: res.body.integrity as string,
      reviews: (res.body.reviews as Array<{ integrity: string }>).map((r) => r.integrity),
    };
  };
  /** Drops the retired store-MAC key `kid` from secrets.json, as the docs allow. */
  const dropRetired = (kid: string) => {
    const file = join(dataDir, SECRETS_FILE);
    const stored = readStored(file);
    const history = JSON.parse(stored.STORE_MAC_RETIRED_KEYS) as Array<{ kid: string }>;
    expect(history.map((k) => k.kid)).toContain(kid);
    stored.STORE_MAC_RETIRED_KEYS = JSON.stringify(history.filter((k) => k.kid !== kid));
    writeStored(file, stored);
  };

  /**
   * Events and reviews under key A; a rotation to B (A retired) and a restart; a review under
   * B chained onto A's tags. Returns A's id and the events.
   */
  async function taggedUnderAThenRotated() {
    t = await startTestApp(env());
    const a = t.app.get(StoreMac).kid;
    const [plain, chained, mixed] = [await flagged(), await flagged(), await flagged()];
    await review(chained.id, 'confirmed', 'seen on camera');
    await review(chained.id, 'dismissed', 'the camera was wrong');
    await review(mixed.id, 'confirmed', 'under a');
    // a worker phone, blocked and unblocked: its block state and events tagged under A
    const phone = await enrollPhone(t.baseUrl, t.keys.admin);
    for (const action of ['block', 'unblock']) {
      const res = await http(t.baseUrl, 'POST', `/api/v5/devices/${phone.deviceId}/${action}`, {
        key: t.keys.admin,
        body: { reason: `${action} under a` },
      });
      expect(res.status).toBe(200);
    }
    await t.close({ keepData: true });
    t = undefined;
    rotateLocalKeys(dataDir, ['mac'], new Date());
    t = await startTestApp(env());
    expect(t.app.get(StoreMac).kid).not.toBe(a);
    await review(mixed.id, 'dismissed', 'under b');
    return { a, plain, chained, mixed, phone };
  }

  it(
    'should keep events and review chains tagged under a retired key verified once it is dropped after keys:retag',
    async () => {
      const { a, plain, chained, mixed, phone } = await taggedUnderAThenRotated();
      // beside the running server, as an operator runs it
      const run = await runScript('keys-retag', dataDir);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect(run.stdout).toContain('fraud events: 3 read, 3 re-tagged under');
      expect(run.stdout).toContain('worker devices (block state and events): 1 read, 1 re-tagged');
      expect(run.stdout).toContain(
        `the oldest retired key ${a} can be removed from STORE_MAC_RETIRED_KEYS`,
      );
      // idempotent: a second run finds everything under the current key
      const again = await runScript('keys-retag', dataDir);
      expect(again.code).toBe(0);
      expect(again.stdout).toContain('0 re-tagged under');

      t = await restartApp(t!, () => dropRetired(a), env());
      expect(await detail(plain.id)).toEqual({ integrity: 'verified', reviews: [] });
      expect(await detail(chained.id)).toEqual({
        integrity: 'verified',
        reviews: ['verified', 'verified'],
      });
      expect(await detail(mixed.id)).toEqual({
        integrity: 'verified',
        reviews: ['verified', 'verified'],
      });
      // the listing too, and a review chains onto the re-tagged history
      const listed = await get(`/api/v5/fraud/events?deviceId=${chained.deviceId}`);
      expect(listed.body[0].integrity).toBe('verified');
      await review(chained.id, 'confirmed', 'after the drop');
      expect((await detail(chained.id)).reviews).toEqual(['verified', 'verified', 'verified']);
      // the phone's block state and events verify under the current key: not read as blocked
      const device = await get(`/api/v5/devices/${phone.deviceId}`);
      expect(device.body).toMatchObject({ isBlocked: false, blockIntegrity: 'verified' });
      expect(device.body.events.map((e: { integrity: string }) => e.integrity)).toEqual([
        'verified',
        'verified',
        'verified',
      ]);
      const refreshed = await refreshToken(t.baseUrl, phone);
      expect(refreshed.body.code).toBeUndefined();
      expect(refreshed.status).toBeLessThan(300);
    },
    slowOnMongo(240_000),
  );

  it(
    'should leave a row tampered before the retag tampered, name it and exit non-zero; the genuine rows are re-tagged',
    async () => {
      const { a, plain, chained } = await taggedUnderAThenRotated();
      await storeSet(t!, 'fraud_events', plain.id, {
        sqlite: { type: 'rapid_repeat' },
        mongo: { type: 'rapid_repeat' },
      });
      const run = await runScript('keys-retag', dataDir);
      expect(run.code).toBe(2);
      expect(run.stdout).toContain('1 tampered');
      expect(run.stdout).toContain(`  "${plain.id}"`);
      expect(run.stdout).not.toContain(chained.id);

      t = await restartApp(t!, () => dropRetired(a), env());
      expect((await detail(plain.id)).integrity).toBe('tampered');
      expect(await detail(chained.id)).toEqual({
        integrity: 'verified',
        reviews: ['verified', 'verified'],
      });
    },
    slowOnMongo(240_000),
  );
});
