import { randomBytes } from 'node:crypto';
import { rotateLocalKeys } from '@app/api/config/key-rotation';
import { FraudEvent, FraudService } from '@app/fraud';
import { StoreMac } from '@app/tlog';
import { runScript } from './support/processes';
import { dataDirApp, dropRetiredStoreMacKey } from './support/tamper';
import { http, slowOnMongo, storeSet } from './support/test-app';

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
  const server = dataDirApp('retag', { TRUST_AUTO_BLOCK_FLOOR: '0' });

  const get = (path: string) => http(server.t.baseUrl, 'GET', path, { key: server.t.keys.admin });
  const review = async (eventId: string, decision: string, reason: string) => {
    const res = await http(server.t.baseUrl, 'POST', `/api/v5/fraud/events/${eventId}/review`, {
      key: server.t.keys.admin,
      body: { decision, reason },
    });
    expect(res.status).toBe(201);
  };
  const flagged = async (): Promise<FraudEvent> =>
    (await server.t.app.get(FraudService).record({
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

  /**
   * Events and reviews under key A; a rotation to B (A retired) and a restart; a review under
   * B chained onto A's tags. Returns A's id and the events.
   */
  async function taggedUnderAThenRotated() {
    const a = (await server.start()).app.get(StoreMac).kid;
    const [plain, chained, mixed] = [await flagged(), await flagged(), await flagged()];
    await review(chained.id, 'confirmed', 'seen on camera');
    await review(chained.id, 'dismissed', 'the camera was wrong');
    await review(mixed.id, 'confirmed', 'under a');
    const t = await server.restart((dataDir) => rotateLocalKeys(dataDir, ['mac'], new Date()));
    expect(t.app.get(StoreMac).kid).not.toBe(a);
    await review(mixed.id, 'dismissed', 'under b');
    return { a, plain, chained, mixed };
  }

  it(
    'should keep events and review chains tagged under a retired key verified once it is dropped after keys:retag',
    async () => {
      const { a, plain, chained, mixed } = await taggedUnderAThenRotated();
      // beside the running server, as an operator runs it
      const run = await runScript('keys-retag', server.dataDir);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect(run.stdout).toContain('3 re-tagged under');
      expect(run.stdout).toContain(
        `the oldest retired key ${a} can be removed from STORE_MAC_RETIRED_KEYS`,
      );
      // idempotent: a second run finds everything under the current key
      const again = await runScript('keys-retag', server.dataDir);
      expect(again.code).toBe(0);
      expect(again.stdout).toContain('0 re-tagged under');

      await server.restart((dataDir) => dropRetiredStoreMacKey(dataDir, a));
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
    },
    slowOnMongo(240_000),
  );

  it(
    'should leave a row tampered before the retag tampered, name it and exit non-zero; the genuine rows are re-tagged',
    async () => {
      const { a, plain, chained } = await taggedUnderAThenRotated();
      await storeSet(server.t, 'fraud_events', plain.id, {
        sqlite: { type: 'rapid_repeat' },
        mongo: { type: 'rapid_repeat' },
      });
      const run = await runScript('keys-retag', server.dataDir);
      expect(run.code).toBe(2);
      expect(run.stdout).toContain('1 tampered');
      expect(run.stdout).toContain(`  "${plain.id}"`);
      expect(run.stdout).not.toContain(chained.id);

      await server.restart((dataDir) => dropRetiredStoreMacKey(dataDir, a));
      expect((await detail(plain.id)).integrity).toBe('tampered');
      expect(await detail(chained.id)).toEqual({
        integrity: 'verified',
        reviews: ['verified', 'verified'],
      });
    },
    slowOnMongo(240_000),
  );
});
