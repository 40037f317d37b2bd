import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { newId } from '@app/common';
import { MongoStore, SqliteStore } from '@app/persistence';
import { compileAdapter, CompiledAdapter } from '@app/persistence/testing/compile-adapter';
import { describeStoreContract } from '@app/persistence/testing/store-contract';
import { parseStoreMacKey, StoreMac, StoreMacKey, tlogConfig } from '@app/tlog';
import { FraudEvent, FraudReview } from '../../domain/fraud-event';
import { FraudEventRepository, RetagOutcome } from './fraud-event.repository';
import { fraudEventAdapters } from './fraud-persistence';
import { FraudSeal } from './fraud-seal';

/**
 * `keys:retag` on both stores (`retagPage`): fraud rows tagged under a retired store-MAC key
 * are tagged again under the current one, review chains in order, so they keep verifying once
 * the retired key is dropped; a row no held key vouches for is never re-tagged.
 */
const signingKey = generateKeyPairSync('ed25519').privateKey;
const newKey = (): StoreMacKey =>
  parseStoreMacKey('STORE_MAC_KEY', randomBytes(32).toString('base64'));

function event(overrides: Partial<FraudEvent> = {}): FraudEvent {
  return {
    id: newId(),
    type: 'impossible_travel',
    deviceId: newId(),
    workerId: newId(),
    siteId: newId(),
    packetId: newId(),
    detail: '50 km in a minute',
    at: new Date('2026-01-01T00:00:00.000Z'),
    ...overrides,
  };
}

function review(overrides: Partial<FraudReview> = {}): FraudReview {
  return {
    id: newId(),
    decision: 'confirmed',
    reason: 'seen on camera',
    by: 'admin:key-1',
    at: new Date('2026-01-10T00:00:00.000Z'),
    ...overrides,
  };
}

describeStoreContract(
  'FraudEventRepository re-tagging',
  fraudEventAdapters,
  ({ store, driver }) => {
    const open: CompiledAdapter<FraudEventRepository>[] = [];
    afterEach(async () => {
      for (const a of open.splice(0)) await a.close();
    });

    /** An adapter on the suite's store tagging under `current`, `retired` still verifying. */
    async function under(current: StoreMacKey, retired: StoreMacKey[] = []) {
      const compiled = await compileAdapter(store(), fraudEventAdapters, {
        providers: [
          {
            provide: tlogConfig.KEY,
            useValue: { signingKey, storeMacKey: current, storeMacRetiredKeys: retired },
          },
          StoreMac,
          FraudSeal,
        ],
      });
      open.push(compiled);
      return compiled.adapter;
    }

    async function retagAll(repo: FraudEventRepository) {
      const all = [];
      for (let after = ''; ;) {
        const page = await repo.retagPage(after, 3);
        all.push(...page);
        if (page.length < 3) return all;
        after = page[page.length - 1].eventId;
      }
    }

    async function integrity(repo: FraudEventRepository, id: string) {
      const detail = (await repo.findWithReviews(id))!;
      const listed = (await repo.listRecent({ deviceId: detail.event.deviceId, limit: 10 }))[0];
      return {
        listed: listed.integrity,
        detail: detail.event.integrity,
        reviews: detail.reviews.map((r) => r.integrity),
      };
    }

    it('should re-tag events and review chains under the current key, so they verify once the retired key is dropped; a second run changes nothing', async () => {
      const [a, b] = [newKey(), newKey()];
      const before = await under(a);
      const plain = event();
      const chained = event();
      const mixed = event();
      const fresh = event();
      await before.recordAll([plain, chained, mixed]);
      await before.addReview(chained.id, review({ decision: 'confirmed', reason: 'first' }));
      await before.addReview(chained.id, review({ decision: 'dismissed', reason: 'second' }));
      await before.addReview(mixed.id, review({ decision: 'confirmed', reason: 'under a' }));
      // rotated: b current, a retired; a review under b chains onto a's tag
      const rotated = await under(b, [a]);
      await rotated.addReview(mixed.id, review({ decision: 'dismissed', reason: 'under b' }));
      await rotated.recordAll([fresh]);

      const outcomes = await retagAll(rotated);
      const byId = new Map(outcomes.map((o) => [o.eventId, o]));
      expect(byId.get(plain.id)).toEqual({ eventId: plain.id, result: 'retagged', from: [a.kid] });
      expect(byId.get(chained.id)).toMatchObject({ result: 'retagged', from: [a.kid] });
      expect(byId.get(mixed.id)).toMatchObject({ result: 'retagged', from: [a.kid] });
      expect(byId.get(fresh.id)).toEqual({ eventId: fresh.id, result: 'current', from: [] });
      expect(outcomes.map((o) => o.eventId)).toEqual(
        [plain.id, chained.id, mixed.id, fresh.id].sort(),
      );

      // a dropped: everything still verifies
      const dropped = await under(b);
      expect(await integrity(dropped, plain.id)).toEqual({
        listed: 'verified',
        detail: 'verified',
        reviews: [],
      });
      for (const e of [chained, mixed]) {
        expect(await integrity(dropped, e.id)).toEqual({
          listed: 'verified',
          detail: 'verified',
          reviews: ['verified', 'verified'],
        });
      }
      // and a review after it chains onto the re-tagged history
      await dropped.addReview(chained.id, review({ decision: 'confirmed', reason: 'third' }));
      expect((await integrity(dropped, chained.id)).reviews).toEqual([
        'verified',
        'verified',
        'verified',
      ]);
      // idempotent: everything is under b now
      expect((await retagAll(rotated)).map((o) => o.result)).toEqual([
        'current',
        'current',
        'current',
        'current',
      ]);
    });

    it('should never re-tag a row no held key vouches for: it is reported tampered, its tags left as stored', async () => {
      const [a, b] = [newKey(), newKey()];
      const before = await under(a);
      const changed = event();
      const rewritten = event();
      const genuine = event();
      await before.recordAll([changed, rewritten, genuine]);
      await before.addReview(rewritten.id, review({ reason: 'first' }));
      await before.addReview(rewritten.id, review({ decision: 'dismissed', reason: 'second' }));
      const stored = async (id: string) =>
        driver() === 'sqlite'
          ? [
              (store() as SqliteStore).db
                .prepare('SELECT type, tag FROM fraud_events WHERE id = ?')
                .get(id),
              (store() as SqliteStore).db
                .prepare(
                  'SELECT decision, tag FROM fraud_event_reviews WHERE event_id = ? ORDER BY seq',
                )
                .all(id),
            ]
          : await (store() as MongoStore).connection
              .collection('fraud_events')
              .findOne({ _id: id as never });
      if (driver() === 'sqlite') {
        const db = (store() as SqliteStore).db;
        db.prepare("UPDATE fraud_events SET type = 'rapid_repeat' WHERE id = ?").run(changed.id);
        db.prepare(
          "UPDATE fraud_event_reviews SET decision = 'dismissed' WHERE event_id = ? AND seq = 1",
        ).run(rewritten.id);
      } else {
        const events = (store() as MongoStore).connection.collection('fraud_events');
        await events.updateOne({ _id: changed.id as never }, { $set: { type: 'rapid_repeat' } });
        await events.updateOne(
          { _id: rewritten.id as never },
          { $set: { 'reviews.0.decision': 'dismissed' } },
        );
      }
      const asStored = [await stored(changed.id), await stored(rewritten.id)];
      const rotated = await under(b, [a]);
      const outcomes = await retagAll(rotated);
      const byId = new Map(outcomes.map((o) => [o.eventId, o.result]));
      expect(byId.get(changed.id)).toBe('tampered');
      expect(byId.get(rewritten.id)).toBe('tampered');
      expect(byId.get(genuine.id)).toBe('retagged');
      expect([await stored(changed.id), await stored(rewritten.id)]).toEqual(asStored);
      const dropped = await under(b);
      expect((await integrity(dropped, changed.id)).detail).toBe('tampered');
      expect((await integrity(dropped, rewritten.id)).detail).toBe('tampered');
      expect((await integrity(dropped, genuine.id)).detail).toBe('verified');
    });

    it('should not re-tag an event with a row that verifies only under an excepted key: suspect, its tags as stored', async () => {
      const [a, b, c] = [newKey(), newKey(), newKey()];
      const underA = event();
      const reviewedUnderA = event();
      const underB = event();
      await (await under(a)).recordAll([underA, reviewedUnderA]);
      await (await under(a)).addReview(reviewedUnderA.id, review({ reason: 'under a' }));
      const onB = await under(b, [a]);
      // its event tag now under b, its first review still under a
      await onB.addReview(reviewedUnderA.id, review({ decision: 'dismissed', reason: 'under b' }));
      await onB.recordAll([underB]);
      const rotated = await under(c, [a, b]);
      const outcomes: RetagOutcome[] = [];
      for (let after = ''; ;) {
        const page = await rotated.retagPage(after, 2, [a.kid]);
        outcomes.push(...page);
        if (page.length < 2) break;
        after = page[page.length - 1].eventId;
      }
      const byId = new Map(outcomes.map((o) => [o.eventId, o]));
      expect(byId.get(underA.id)).toEqual({ eventId: underA.id, result: 'suspect', from: [a.kid] });
      expect(byId.get(reviewedUnderA.id)).toEqual({
        eventId: reviewedUnderA.id,
        result: 'suspect',
        from: [a.kid],
      });
      expect(byId.get(underB.id)).toEqual({
        eventId: underB.id,
        result: 'retagged',
        from: [b.kid],
      });
      // a dropped: the suspects read tampered (never re-tagged), b's row verifies
      const dropped = await under(c, [b]);
      expect((await integrity(dropped, underA.id)).detail).toBe('tampered');
      expect((await integrity(dropped, reviewedUnderA.id)).detail).toBe('tampered');
      expect((await integrity(dropped, underB.id)).detail).toBe('verified');
    });

    it('should keep a legacy row legacy when it re-tags it', async () => {
      const [a, b] = [newKey(), newKey()];
      // written by a server without the tags (as before the upgrade), tagged as legacy under a
      const plainRepo = await compileAdapter(store(), fraudEventAdapters);
      open.push(plainRepo);
      const old = event();
      await plainRepo.adapter.recordAll([old]);
      await plainRepo.adapter.addReview(old.id, review({ reason: 'before' }));
      if (driver() === 'mongo') {
        await (store() as MongoStore).connection.collection('fraud_seal').deleteMany({});
      }
      const legacy = await under(a);
      expect((await integrity(legacy, old.id)).detail).toBe('legacy');
      const rotated = await under(b, [a]);
      expect((await retagAll(rotated)).find((o) => o.eventId === old.id)?.result).toBe('retagged');
      expect(await integrity(await under(b), old.id)).toEqual({
        listed: 'legacy',
        detail: 'legacy',
        reviews: ['legacy'],
      });
    });

    it('should read an event again when a review was recorded between its read and its write (SQLite: the compare-and-set misses)', async () => {
      if (driver() !== 'sqlite') return; // MongoDB: the racing case below
      const [a, b] = [newKey(), newKey()];
      const before = await under(a);
      const e = event();
      await before.recordAll([e]);
      await before.addReview(e.id, review({ reason: 'under a' }));
      const server = await under(b, [a]);
      const command = await under(b, [a]);
      // the store's write turn held: the server's review waits for it (and reads inside its
      // turn), the command reads now and writes after the review
      let release!: () => void;
      const held = (store() as SqliteStore).writeTurns.hold(
        () => new Promise<void>((resolve) => (release = resolve)),
      );
      const reviewed = server.addReview(
        e.id,
        review({ decision: 'dismissed', reason: 'meanwhile' }),
      );
      const retagged = command.retagPage('', 10);
      release();
      await Promise.all([held, reviewed]);
      expect(await retagged).toEqual([{ eventId: e.id, result: 'retagged', from: [a.kid] }]);
      expect(await integrity(await under(b), e.id)).toEqual({
        listed: 'verified',
        detail: 'verified',
        reviews: ['verified', 'verified'],
      });
    });

    it('should report an event deleted between its read and its write as deleted, so a full page stays full (SQLite: the compare-and-set misses)', async () => {
      if (driver() !== 'sqlite') return; // MongoDB: no point to hold between its reads
      const [a, b] = [newKey(), newKey()];
      const before = await under(a);
      const [gone, kept] = [event(), event()].sort((x, y) => (x.id < y.id ? -1 : 1));
      await before.recordAll([gone, kept]);
      const command = await under(b, [a]);
      let release!: () => void;
      const held = (store() as SqliteStore).writeTurns.hold(
        () => new Promise<void>((resolve) => (release = resolve)),
      );
      // the command reads both now and writes after the delete
      const retagged = command.retagPage('', 2);
      (store() as SqliteStore).db.prepare('DELETE FROM fraud_events WHERE id = ?').run(gone.id);
      release();
      await held;
      // two ids read, two outcomes: a caller paging on `length < limit` goes on past `kept`
      expect(await retagged).toEqual([
        { eventId: gone.id, result: 'deleted', from: [] },
        { eventId: kept.id, result: 'retagged', from: [a.kid] },
      ]);
    });

    it('should leave no history broken when reviews are recorded while it re-tags (compare-and-set on the tags as read)', async () => {
      const [a, b] = [newKey(), newKey()];
      const before = await under(a);
      const events = Array.from({ length: 12 }, () => event());
      await before.recordAll(events);
      for (const e of events) await before.addReview(e.id, review({ reason: 'under a' }));
      const server = await under(b, [a]);
      const command = await under(b, [a]);
      const [outcomes] = await Promise.all([
        retagAll(command),
        Promise.all(
          events.map((e) =>
            server.addReview(e.id, review({ decision: 'dismissed', reason: 'meanwhile' })),
          ),
        ),
      ]);
      expect(outcomes.every((o) => o.result === 'retagged' || o.result === 'changed')).toBe(true);
      // whatever missed is taken by a next run
      await retagAll(command);
      const dropped = await under(b);
      for (const e of events) {
        expect(await integrity(dropped, e.id)).toEqual({
          listed: 'verified',
          detail: 'verified',
          reviews: ['verified', 'verified'],
        });
      }
    });
  },
);
