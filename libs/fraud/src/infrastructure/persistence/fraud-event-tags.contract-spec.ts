import { generateKeyPairSync } from 'node:crypto';
import { newId } from '@app/common';
import { MongoStore, SqliteStore } from '@app/persistence';
import { compileAdapter, CompiledAdapter } from '@app/persistence/testing/compile-adapter';
import { describeStoreContract } from '@app/persistence/testing/store-contract';
import { StoreMac, tlogConfig } from '@app/tlog';
import { FraudEvent, FraudReview } from '../../domain/fraud-event';
import { fraudConfig } from '../../fraud.config';
import { FraudEventTamperedError } from '../../fraud.errors';
import { FraudEventRepository } from './fraud-event.repository';
import { fraudEventAdapters } from './fraud-persistence';
import { FraudSeal } from './fraud-seal';

/**
 * The fraud store with its tags (FraudSeal), on both stores: rows changed outside the server
 * read as `tampered`, rows from before the tags as `legacy` once the first server with the tags
 * has tagged them. The plain suite (fraud-event.contract-spec.ts) builds the adapter without the
 * seal; here a second adapter on the same store has one.
 */
const signingKey = generateKeyPairSync('ed25519').privateKey;

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

type Row = Record<string, unknown>;

describeStoreContract('FraudEventRepository tags', fraudEventAdapters, ({ sut, store, driver }) => {
  let sealed: CompiledAdapter<FraudEventRepository> | undefined;
  afterEach(async () => {
    await sealed?.close();
    sealed = undefined;
  });

  /** An adapter on the suite's store with the server's tags (built, and so upgraded, now). */
  async function withTags(): Promise<FraudEventRepository> {
    await sealed?.close();
    sealed = await compileAdapter(store(), fraudEventAdapters, {
      providers: [{ provide: tlogConfig.KEY, useValue: { signingKey } }, StoreMac, FraudSeal],
    });
    return sealed.adapter;
  }

  const sqlite = () => (store() as SqliteStore).db;
  const events = () => (store() as MongoStore).connection.collection('fraud_events');

  /** Sets stored fields of an event: SQLite columns or MongoDB fields (dotted paths). */
  async function setEvent(id: string, sqliteSet: Row, mongoSet: Row): Promise<void> {
    if (driver() === 'sqlite') {
      const columns = Object.keys(sqliteSet);
      sqlite()
        .prepare(
          `UPDATE fraud_events SET ${columns.map((c) => `${c} = ?`).join(', ')} WHERE id = ?`,
        )
        .run(...columns.map((c) => sqliteSet[c]), id);
    } else {
      await events().updateOne({ _id: id as never }, { $set: mongoSet });
    }
  }

  async function integrityOf(repo: FraudEventRepository, id: string) {
    const listed = (await repo.listRecent({ limit: 100 })).find((e) => e.id === id);
    const detail = await repo.findWithReviews(id);
    return {
      listed: listed?.integrity,
      detail: detail?.event.integrity,
      reviews: detail?.reviews.map((r) => r.integrity),
    };
  }

  it('should read what this server wrote as verified, in listings, by packet and with its reviews', async () => {
    const repo = await withTags();
    const e = event();
    await repo.recordAll([e]);
    await repo.addReview(e.id, review({ decision: 'dismissed', reason: 'bad GPS fix' }));
    await repo.addReview(e.id, review());
    expect(await integrityOf(repo, e.id)).toEqual({
      listed: 'verified',
      detail: 'verified',
      reviews: ['verified', 'verified'],
    });
    const [byPacket] = await repo.listByPacketIds([e.packetId!], 10);
    expect(byPacket.integrity).toBe('verified');
  });

  it('should read an event whose type, time, device or current review was changed as tampered, and refuse to review it', async () => {
    const repo = await withTags();
    const [typed, timed, moved, dismissed, genuine] = [event(), event(), event(), event(), event()];
    await repo.recordAll([typed, timed, moved, dismissed, genuine]);
    await repo.addReview(dismissed.id, review());
    await setEvent(typed.id, { type: 'rapid_repeat' }, { type: 'rapid_repeat' });
    await setEvent(
      timed.id,
      { at: '2025-01-01T00:00:00.000Z' },
      { at: new Date('2025-01-01T00:00:00.000Z') },
    );
    await setEvent(moved.id, { device_id: newId() }, { deviceId: newId() });
    await setEvent(
      dismissed.id,
      { review_decision: 'dismissed' },
      { 'review.decision': 'dismissed' },
    );
    for (const e of [typed, timed, moved, dismissed]) {
      expect((await integrityOf(repo, e.id)).listed).toBe('tampered');
      await expect(repo.addReview(e.id, review({ reason: 'again' }))).rejects.toBeInstanceOf(
        FraudEventTamperedError,
      );
    }
    expect((await integrityOf(repo, genuine.id)).listed).toBe('verified');
  });

  it("should cover a refused punch with the event's tag: its type or claimed time changed, removed or added reads tampered", async () => {
    const repo = await withTags();
    const punch = { type: 'check_in' as const, at: new Date('2026-10-05T03:30:00.000Z') };
    const [retyped, moved, removed, added, genuine] = [1, 2, 3, 4, 5].map(() =>
      event({ type: 'timestamp_too_old', punch }),
    );
    added.punch = undefined;
    await repo.recordAll([retyped, moved, removed, added, genuine]);
    await setEvent(retyped.id, { punch_type: 'check_out' }, { 'punch.type': 'check_out' });
    await setEvent(
      moved.id,
      { punch_at: '2026-10-06T03:30:00.000Z' },
      { 'punch.at': new Date('2026-10-06T03:30:00.000Z') },
    );
    if (driver() === 'sqlite') {
      await setEvent(removed.id, { punch_type: null, punch_at: null }, {});
    } else {
      await events().updateOne({ _id: removed.id as never }, { $unset: { punch: '' } });
    }
    await setEvent(
      added.id,
      { punch_type: 'check_in', punch_at: '2026-10-05T03:30:00.000Z' },
      { punch: { type: 'check_in', at: new Date('2026-10-05T03:30:00.000Z') } },
    );
    for (const e of [retyped, moved, removed, added]) {
      expect([e.id, (await integrityOf(repo, e.id)).listed]).toEqual([e.id, 'tampered']);
    }
    expect((await integrityOf(repo, genuine.id)).listed).toBe('verified');
  });

  it('should read an event or review whose stored time is spelled other than the server writes it as tampered', async () => {
    // the same instant, but the queries compare the stored value: `+002026-…` sorts before any
    // `from` on SQLite, and a string or number escapes `$gte: Date` on MongoDB
    const repo = await withTags();
    const [spelled, numbered, reviewed, genuine] = [event(), event(), event(), event()];
    await repo.recordAll([spelled, numbered, reviewed, genuine]);
    await repo.addReview(reviewed.id, review());
    const at = spelled.at.toISOString();
    await setEvent(spelled.id, { at: `+00${at}` }, { at });
    await setEvent(numbered.id, { at: at.replace('.000Z', 'Z') }, { at: spelled.at.getTime() });
    await setEvent(
      reviewed.id,
      { review_at: '2026-01-10T00:00:00Z' },
      { 'review.at': '2026-01-10T00:00:00.000Z' },
    );
    for (const e of [spelled, numbered, reviewed]) {
      const [listed] = await repo.listRecent({ deviceId: e.deviceId, limit: 10 });
      expect(listed.integrity).toBe('tampered');
      expect((await repo.findWithReviews(e.id))!.event.integrity).toBe('tampered');
      await expect(repo.addReview(e.id, review({ reason: 'again' }))).rejects.toBeInstanceOf(
        FraudEventTamperedError,
      );
    }
    // a review row's own time
    await repo.addReview(genuine.id, review());
    if (driver() === 'sqlite') {
      sqlite()
        .prepare(
          "UPDATE fraud_event_reviews SET at = '+002026-01-10T00:00:00.000Z' WHERE event_id = ?",
        )
        .run(genuine.id);
    } else {
      await events().updateOne(
        { _id: genuine.id as never },
        { $set: { 'reviews.0.at': '2026-01-10T00:00:00.000Z' } },
      );
    }
    const detail = (await repo.findWithReviews(genuine.id))!;
    expect(detail.reviews.map((r) => r.integrity)).toEqual(['tampered']);
    expect(detail.event.integrity).toBe('tampered');
  });

  it('should list an event put back to an earlier review state (its row and old tag restored, the reviews kept) as tampered', async () => {
    const repo = await withTags();
    const e = event();
    await repo.recordAll([e]);
    await repo.addReview(e.id, review({ decision: 'confirmed', reason: 'first' }));
    const fields =
      driver() === 'sqlite'
        ? ['review_id', 'review_decision', 'review_reason', 'review_by', 'review_at', 'tag']
        : ['review', 'tag'];
    const snapshot = async (): Promise<Row> => {
      if (driver() === 'sqlite') {
        return sqlite()
          .prepare(`SELECT ${fields.join(', ')} FROM fraud_events WHERE id = ?`)
          .get(e.id) as Row;
      }
      const doc = (await events().findOne({ _id: e.id as never }))!;
      return { review: doc.review, tag: doc.tag };
    };
    const before = await snapshot();
    await repo.addReview(e.id, review({ decision: 'dismissed', reason: 'second' }));
    await setEvent(e.id, before, before);
    expect(await integrityOf(repo, e.id)).toMatchObject({ listed: 'tampered', detail: 'tampered' });
    const [byPacket] = await repo.listByPacketIds([e.packetId!], 10);
    expect(byPacket.integrity).toBe('tampered');
  });

  it("should read a dismissed event put back to its earlier review (row and old tag restored, reviews kept) as tampered in a device's weighing history", async () => {
    const repo = await withTags();
    const deviceId = newId();
    const e = event({ deviceId });
    const genuine = event({ deviceId, type: 'shared_device' });
    await repo.recordAll([e, genuine]);
    await repo.addReview(e.id, review({ decision: 'confirmed', reason: 'first' }));
    await repo.addReview(genuine.id, review({ decision: 'confirmed', reason: 'first' }));
    const fields =
      driver() === 'sqlite'
        ? ['review_id', 'review_decision', 'review_reason', 'review_by', 'review_at', 'tag']
        : ['review', 'tag'];
    let before: Row;
    if (driver() === 'sqlite') {
      before = sqlite()
        .prepare(`SELECT ${fields.join(', ')} FROM fraud_events WHERE id = ?`)
        .get(e.id) as Row;
    } else {
      const doc = (await events().findOne({ _id: e.id as never }))!;
      before = { review: doc.review, tag: doc.tag };
    }
    // dismissed: it weighs no more; then its row put back to the confirmed state, so it would
    await repo.addReview(e.id, review({ decision: 'dismissed', reason: 'second' }));
    const from = new Date('2025-12-01T00:00:00.000Z');
    const to = new Date('2026-02-01T00:00:00.000Z');
    expect((await repo.weighingHistories([deviceId], from, to, 10)).get(deviceId)).toEqual([
      { id: genuine.id, type: 'shared_device', at: genuine.at, integrity: 'verified' },
    ]);
    await setEvent(e.id, before, before);
    const read = (await repo.weighingHistories([deviceId], from, to, 10)).get(deviceId)!;
    expect(new Map(read.map((w) => [w.id, w.integrity]))).toEqual(
      new Map([
        [e.id, 'tampered'],
        [genuine.id, 'verified'],
      ]),
    );
  });

  it('should read a MongoDB event whose reviews are no list of documents as tampered, with no history, rather than fail', async () => {
    if (driver() !== 'mongo') return; // SQLite: reviews are rows of their own table
    const repo = await withTags();
    const [object, holed, genuine] = [event(), event(), event()];
    await repo.recordAll([object, holed, genuine]);
    await repo.addReview(holed.id, review());
    await events().updateOne({ _id: object.id as never }, { $set: { reviews: { a: 1 } } });
    await events().updateOne({ _id: holed.id as never }, { $push: { reviews: null } } as never);
    for (const e of [object, holed]) {
      expect(await integrityOf(repo, e.id)).toEqual({
        listed: 'tampered',
        detail: 'tampered',
        reviews: [],
      });
      await expect(repo.addReview(e.id, review({ reason: 'again' }))).rejects.toBeInstanceOf(
        FraudEventTamperedError,
      );
    }
    const outcomes = new Map((await repo.retagPage('', 100)).map((o) => [o.eventId, o.result]));
    expect([outcomes.get(object.id), outcomes.get(holed.id), outcomes.get(genuine.id)]).toEqual([
      'tampered',
      'tampered',
      'current',
    ]);
  });

  it('should read a review history with a review rewritten, deleted or reordered as tampered', async () => {
    const repo = await withTags();
    const [rewritten, deletedLast, deletedFirst, swapped] = [event(), event(), event(), event()];
    await repo.recordAll([rewritten, deletedLast, deletedFirst, swapped]);
    for (const e of [rewritten, deletedLast, deletedFirst, swapped]) {
      await repo.addReview(e.id, review({ decision: 'confirmed', reason: 'first' }));
      await repo.addReview(e.id, review({ decision: 'dismissed', reason: 'second' }));
    }
    if (driver() === 'sqlite') {
      const db = sqlite();
      db.prepare(
        "UPDATE fraud_event_reviews SET decision = 'dismissed' WHERE event_id = ? AND seq = 1",
      ).run(rewritten.id);
      db.prepare('DELETE FROM fraud_event_reviews WHERE event_id = ? AND seq = 2').run(
        deletedLast.id,
      );
      db.prepare('DELETE FROM fraud_event_reviews WHERE event_id = ? AND seq = 1').run(
        deletedFirst.id,
      );
      db.prepare('UPDATE fraud_event_reviews SET seq = 3 - seq + 10 WHERE event_id = ?').run(
        swapped.id,
      );
      db.prepare('UPDATE fraud_event_reviews SET seq = seq - 10 WHERE event_id = ?').run(
        swapped.id,
      );
    } else {
      await events().updateOne(
        { _id: rewritten.id as never },
        { $set: { 'reviews.0.decision': 'dismissed' } },
      );
      await events().updateOne({ _id: deletedLast.id as never }, { $pop: { reviews: 1 } });
      await events().updateOne({ _id: deletedFirst.id as never }, { $pop: { reviews: -1 } });
      const doc = (await events().findOne({ _id: swapped.id as never }))!;
      await events().updateOne(
        { _id: swapped.id as never },
        { $set: { reviews: [...(doc.reviews as Row[])].reverse() } },
      );
    }
    expect(await integrityOf(repo, rewritten.id)).toEqual({
      listed: 'verified',
      detail: 'tampered',
      reviews: ['tampered', 'verified'],
    });
    // the current review is no longer the history's last: the listing sees it too
    expect(await integrityOf(repo, deletedLast.id)).toMatchObject({
      listed: 'tampered',
      detail: 'tampered',
    });
    expect((await integrityOf(repo, deletedFirst.id)).detail).toBe('tampered');
    expect((await integrityOf(repo, swapped.id)).detail).toBe('tampered');
    await expect(repo.addReview(deletedLast.id, review())).rejects.toBeInstanceOf(
      FraudEventTamperedError,
    );
  });

  it('should tag rows from before the tags once, as legacy; later changes and later untagged rows are tampered', async () => {
    // written by a server without the tags (as before the upgrade)
    const old = event();
    const changed = event();
    await sut().recordAll([old, changed]);
    await sut().addReview(old.id, review({ decision: 'dismissed', reason: 'before' }));
    if (driver() === 'mongo') {
      // documents of a server from before the tags carry no fraud_seal document either
      await (store() as MongoStore).connection.collection('fraud_seal').deleteMany({});
    }
    const repo = await withTags();
    expect(await integrityOf(repo, old.id)).toEqual({
      listed: 'legacy',
      detail: 'legacy',
      reviews: ['legacy'],
    });
    // a review after the upgrade is the server's own, the event stays legacy
    await repo.addReview(old.id, review({ decision: 'confirmed', reason: 'after' }));
    expect(await integrityOf(repo, old.id)).toEqual({
      listed: 'legacy',
      detail: 'legacy',
      reviews: ['legacy', 'verified'],
    });
    await setEvent(changed.id, { type: 'rapid_repeat' }, { type: 'rapid_repeat' });
    // an untagged row written after the upgrade, and a restart: not legacy
    const forged = event();
    if (driver() === 'sqlite') {
      sqlite()
        .prepare(
          `INSERT INTO fraud_events (id, type, device_id, detail, at) VALUES (?, 'rapid_repeat', ?, 'x', ?)`,
        )
        .run(forged.id, forged.deviceId, forged.at.toISOString());
    } else {
      await events().insertOne({
        _id: forged.id as never,
        type: 'rapid_repeat',
        deviceId: forged.deviceId,
        detail: 'x',
        at: forged.at,
      });
    }
    const restarted = await withTags();
    expect((await integrityOf(restarted, changed.id)).listed).toBe('tampered');
    expect((await integrityOf(restarted, forged.id)).listed).toBe('tampered');
    expect((await integrityOf(restarted, old.id)).listed).toBe('legacy');
    expect(await restarted.legacySeal()).toEqual({
      sealedAt: expect.any(Date),
      count: 2,
      refused: false,
    });
  });

  it('should wait for another replica tagging the legacy rows rather than refuse (MongoDB: the marker comes after the tags)', async () => {
    if (driver() !== 'mongo') return;
    const old = event();
    await sut().recordAll([old]);
    await withTags();
    const marks = (store() as MongoStore).connection.collection('fraud_seal');
    const mark = (await marks.findOne({ _id: 'legacy' as never }))!;
    expect(mark.count).toBe(1);
    // as seen by a replica starting while another is still tagging: tagged rows, no marker yet
    await marks.deleteMany({});
    const finished = new Promise<void>((resolve) =>
      setTimeout(() => void marks.insertOne(mark).then(() => resolve()), 700),
    );
    const replica = await withTags();
    await finished;
    expect((await replica.legacySeal()).refused).toBe(false);
    expect((await integrityOf(replica, old.id)).listed).toBe('legacy');
  });

  it('should clear a not_allowed refusal once another replica tagged the legacy rows (MongoDB: replicas share the store)', async () => {
    if (driver() !== 'mongo') return;
    const old = event();
    await sut().recordAll([old]);
    // a replica started without FRAUD_LEGACY_TAGGING on a store from before the tags: refused
    const refusing = await compileAdapter(store(), fraudEventAdapters, {
      providers: [
        { provide: tlogConfig.KEY, useValue: { signingKey } },
        { provide: fraudConfig.KEY, useValue: { legacyTagging: false } },
        StoreMac,
        FraudSeal,
      ],
    });
    try {
      expect(await refusing.adapter.legacySeal()).toMatchObject({
        refused: true,
        refusedReason: 'not_allowed',
      });
      // another replica of the same upgrade, with it: tags the rows, then its marker
      const tagging = await withTags();
      expect((await tagging.legacySeal()).refused).toBe(false);
      const state = await refusing.adapter.legacySeal();
      expect(state.refused).toBe(false);
      expect(state.refusedReason).toBeUndefined();
      expect((await integrityOf(refusing.adapter, old.id)).listed).toBe('legacy');
    } finally {
      await refusing.close();
    }
  });

  it('should refuse the legacy tagging when its marker is cleared while rows carry tags: untagged rows stay tampered', async () => {
    const repo = await withTags();
    const [genuine, rewritten] = [event(), event()];
    await repo.recordAll([genuine, rewritten]);
    await repo.addReview(rewritten.id, review());
    const forged = event();
    // a forged row, a verified row rewritten with its tags nulled, and the marker cleared
    if (driver() === 'sqlite') {
      const db = sqlite();
      db.prepare(
        `INSERT INTO fraud_events (id, type, device_id, detail, at) VALUES (?, 'rapid_repeat', ?, 'x', ?)`,
      ).run(forged.id, forged.deviceId, forged.at.toISOString());
      db.prepare("UPDATE fraud_events SET type = 'shared_device', tag = NULL WHERE id = ?").run(
        rewritten.id,
      );
      db.prepare('UPDATE fraud_event_reviews SET tag = NULL WHERE event_id = ?').run(rewritten.id);
      db.prepare('UPDATE fraud_seal SET legacy_sealed_at = NULL').run();
    } else {
      await events().insertOne({
        _id: forged.id as never,
        type: 'rapid_repeat',
        deviceId: forged.deviceId,
        detail: 'x',
        at: forged.at,
      });
      await events().updateOne(
        { _id: rewritten.id as never },
        { $set: { type: 'shared_device' }, $unset: { tag: '', 'reviews.0.tag': '' } },
      );
      await (store() as MongoStore).connection.collection('fraud_seal').deleteMany({});
    }
    const restarted = await withTags();
    expect((await integrityOf(restarted, forged.id)).listed).toBe('tampered');
    expect(await integrityOf(restarted, rewritten.id)).toEqual({
      listed: 'tampered',
      detail: 'tampered',
      reviews: ['tampered'],
    });
    expect((await integrityOf(restarted, genuine.id)).listed).toBe('verified');
    expect((await restarted.legacySeal()).refused).toBe(true);
  });
});
