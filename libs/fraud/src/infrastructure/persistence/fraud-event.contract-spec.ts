import { newId } from '@app/common';
import { MongoStore, SqliteStore } from '@app/persistence';
import { compileAdapter } from '@app/persistence/testing/compile-adapter';
import { describeStoreContract, MONGODB_URI } from '@app/persistence/testing/store-contract';
import {
  CheckedFraudWeight,
  FraudEvent,
  FraudEventType,
  FraudReview,
  WEIGHING_EVENT_TYPES,
} from '../../domain/fraud-event';
import { FraudEventRepository } from './fraud-event.repository';
import { fraudEventAdapters } from './fraud-persistence';
import { devicePacketsSql } from './sqlite/repositories/sqlite-fraud-event.repository';
import { explainQueryPlan, planProblems } from '@app/persistence/testing/query-plan';

function event(overrides: Partial<FraudEvent> = {}): FraudEvent {
  return {
    id: newId(),
    type: 'invalid_signature',
    deviceId: 'dev-1',
    workerId: 'wrk-1',
    siteId: 'site-1',
    packetId: 'pkt-1',
    detail: 'HMAC does not match',
    at: new Date('2026-01-01T00:00:00.000Z'),
    ...overrides,
  };
}

/** The type and time of each weighing event (the store without tags gives no integrity). */
function weights(histories: Map<string, CheckedFraudWeight[]>) {
  return new Map(
    [...histories].map(([deviceId, ws]) => [deviceId, ws.map(({ type, at }) => ({ type, at }))]),
  );
}

/**
 * The weighing history as the per-type read defines it, from the events themselves: per device,
 * each weighing type's newest `perType` in [from, to] (not dismissed), merged newest first in
 * (at, id) order.
 */
function perTypeReference(
  events: FraudEvent[],
  dismissed: ReadonlySet<string>,
  from: Date,
  to: Date,
  perType: number,
): Map<string, string[]> {
  const newestFirst = (a: FraudEvent, b: FraudEvent) =>
    b.at.getTime() - a.at.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
  const found = new Map<string, string[]>();
  const devices = [...new Set(events.map((e) => e.deviceId).filter((d) => d !== undefined))];
  for (const deviceId of devices) {
    const rows = WEIGHING_EVENT_TYPES.flatMap((type) =>
      events
        .filter(
          (e) =>
            e.deviceId === deviceId &&
            e.type === type &&
            e.at >= from &&
            e.at <= to &&
            !dismissed.has(e.id),
        )
        .sort(newestFirst)
        .slice(0, perType),
    ).sort(newestFirst);
    if (rows.length > 0)
      found.set(
        deviceId,
        rows.map((e) => e.id),
      );
  }
  return found;
}

function review(overrides: Partial<FraudReview> = {}): FraudReview {
  return {
    id: newId(),
    decision: 'dismissed',
    reason: 'bad GPS fix indoors',
    by: 'admin:key-1',
    at: new Date('2026-01-10T00:00:00.000Z'),
    ...overrides,
  };
}

describeStoreContract('FraudEventRepository', fraudEventAdapters, ({ sut, store, driver }) => {
  it('should have an index matching the newest-first sort (at desc, id desc)', async () => {
    const s = store();
    if (driver() === 'mongo') {
      const indexes = await (s as MongoStore).connection.collection('fraud_events').indexes();
      expect(indexes.map((i) => i.key)).toContainEqual({ at: -1, _id: -1 });
    } else {
      const plan = (s as SqliteStore).db
        .prepare('EXPLAIN QUERY PLAN SELECT * FROM fraud_events ORDER BY at DESC, id DESC LIMIT 50')
        .all()
        .map((row) => (row as { detail: string }).detail)
        .join('\n');
      expect(plan).toMatch(/USING INDEX fraud_events_at_id/);
      expect(plan).not.toMatch(/TEMP B-TREE/);
    }
  });

  it("should keep a refused punch and read a site's refused punches by their claimed time in [from, to)", async () => {
    const s = `site-${newId()}`;
    const punched = (type: 'check_in' | 'check_out', at: string, site = s) =>
      event({ type: 'timestamp_too_old', siteId: site, punch: { type, at: new Date(at) } });
    const first = punched('check_in', '2026-10-04T18:30:00.000Z');
    const last = punched('check_out', '2026-10-05T18:29:59.999Z');
    const after = punched('check_out', '2026-10-05T18:30:00.000Z');
    const elsewhere = punched('check_in', '2026-10-05T03:30:00.000Z', `site-${newId()}`);
    const none = event({ type: 'timestamp_too_old', siteId: s });
    await sut().recordAll([first, last, after, elsewhere, none]);
    const found = await sut().listRefusedPunches(
      s,
      new Date('2026-10-04T18:30:00.000Z'),
      new Date('2026-10-05T18:30:00.000Z'),
    );
    expect(found.map((e) => e.id).sort()).toEqual([first.id, last.id].sort());
    expect(found.find((e) => e.id === last.id)!.punch).toEqual(last.punch);
    const listed = await sut().listRecent({ siteId: s, limit: 10 });
    expect(listed.find((e) => e.id === none.id)!.punch).toBeUndefined();
    expect(listed.find((e) => e.id === first.id)!.punch).toEqual(first.punch);
    if (driver() === 'mongo') {
      const indexes = await (store() as MongoStore).connection.collection('fraud_events').indexes();
      expect(indexes.map((i) => i.key)).toContainEqual({ siteId: 1, 'punch.at': 1 });
      expect(indexes.map((i) => i.key)).toContainEqual({ workerId: 1, type: 1, at: -1, _id: -1 });
    }
  });

  it('should find the events of given packets, oldest first, up to the limit', async () => {
    const a = event({ packetId: 'pa', at: new Date('2026-01-02T00:00:00.000Z') });
    const b = event({ packetId: 'pb', at: new Date('2026-01-01T00:00:00.000Z') });
    await sut().recordAll([a, b, event({ packetId: 'pc' }), event({ packetId: undefined })]);
    expect(await sut().listByPacketIds(['pa', 'pb', 'zz'], 10)).toEqual([b, a]);
    expect(await sut().listByPacketIds(['pa', 'pb'], 1)).toEqual([b]);
    expect(await sut().listByPacketIds([], 10)).toEqual([]);
  });

  it("should find one device's events of given packets, whatever other devices recorded under those ids", async () => {
    const mine = event({ deviceId: 'dev-a', packetId: 'pa', type: 'invalid_signature' });
    const mineOther = event({ deviceId: 'dev-a', packetId: 'pb', type: 'malformed_packet' });
    const others = Array.from({ length: 20 }, () =>
      event({ deviceId: `dev-${newId()}`, packetId: 'pa' }),
    );
    await sut().recordAll([
      ...others,
      mine,
      mineOther,
      event({ deviceId: 'dev-a', packetId: 'pc' }),
      event({ deviceId: 'dev-a', packetId: undefined }),
    ]);
    const found = await sut().listOfDevicePackets('dev-a', ['pa', 'pb', 'pa', 'zz']);
    expect(found.map((e) => e.id).sort()).toEqual([mine.id, mineOther.id].sort());
    expect(await sut().listOfDevicePackets('dev-a', [])).toEqual([]);
  });

  it("should read a device's events of given packets by one seek per packet in the (device, packet, type) index", async () => {
    const s = store();
    if (driver() === 'mongo') {
      const indexes = await (s as MongoStore).connection.collection('fraud_events').indexes();
      expect(indexes.map((i) => i.key)).toContainEqual({ deviceId: 1, packetId: 1, type: 1 });
      return;
    }
    // rows enough that SQLite's planner has a choice (ANALYZE is not run: its default guesses)
    await sut().recordAll(
      Array.from({ length: 200 }, (_, i) =>
        event({ deviceId: `dev-${i % 7}`, packetId: `p-${i % 13}` }),
      ),
    );
    for (const count of [1, 3, 500]) {
      const plan = explainQueryPlan((s as SqliteStore).db, devicePacketsSql(count), [
        'dev-1',
        ...Array.from({ length: count }, (_, i) => `p-${i}`),
      ]);
      expect(plan.join('\n')).toMatch(
        /SEARCH fraud_events USING INDEX fraud_events_device_packet \(device_id=\? AND packet_id=\?\)/,
      );
      expect(planProblems(plan)).toEqual([]);
    }
  });

  it("should read each device's weighing history: in range, not dismissed, newest first, at most perType of each type", async () => {
    const at = (day: number) => new Date(Date.UTC(2026, 0, day));
    const dismissed = event({ deviceId: 'dev-a', type: 'rapid_repeat', at: at(5) });
    await sut().recordAll([
      event({ deviceId: 'dev-a', type: 'shared_device', at: at(3) }),
      event({ deviceId: 'dev-a', type: 'outside_geofence', at: at(4) }),
      dismissed,
      event({ deviceId: 'dev-a', type: 'invalid_token', at: at(6) }),
      event({ deviceId: 'dev-a', type: 'invalid_token', at: at(7) }),
      event({ deviceId: 'dev-a', type: 'invalid_token', at: at(8) }),
      event({ deviceId: 'dev-a', type: 'impossible_travel', at: at(1) }), // before `from`
      event({ deviceId: 'dev-a', type: 'impossible_travel', at: at(20) }), // after `to`
      event({ deviceId: 'dev-b', type: 'device_mismatch', at: at(4) }),
      event({ deviceId: undefined, type: 'invalid_token', at: at(4) }),
    ]);
    await sut().addReview(dismissed.id, review());
    const histories = weights(
      await sut().weighingHistories(['dev-a', 'dev-b', 'dev-none', 'dev-a'], at(2), at(10), 2),
    );
    expect([...histories.keys()].sort()).toEqual(['dev-a', 'dev-b']);
    expect(histories.get('dev-a')).toEqual([
      { type: 'invalid_token', at: at(8) },
      { type: 'invalid_token', at: at(7) },
      { type: 'outside_geofence', at: at(4) },
      { type: 'shared_device', at: at(3) },
    ]);
    expect(histories.get('dev-b')).toEqual([{ type: 'device_mismatch', at: at(4) }]);
    const all = await sut().weighingHistories(['dev-a'], at(2), at(10), 10);
    expect(all.get('dev-a')!.map((w) => w.type)).toEqual([
      'invalid_token',
      'invalid_token',
      'invalid_token',
      'outside_geofence',
      'shared_device',
    ]);
    expect((await sut().weighingHistories([], at(1), at(30), 10)).size).toBe(0);
  });

  it("should leave a blocked device's refused syncs (device_blocked) out of its weighing history, however many", async () => {
    const at = (minute: number) => new Date(Date.UTC(2026, 0, 5, 0, minute));
    await sut().recordAll([
      event({ deviceId: 'dev-a', type: 'impossible_travel', at: at(0) }),
      event({ deviceId: 'dev-a', type: 'invalid_signature', at: at(1) }),
      // its app retrying its queue while blocked: newer than every event that weighs
      ...Array.from({ length: 12 }, (_, i) =>
        event({ deviceId: 'dev-a', type: 'device_blocked', at: at(10 + i) }),
      ),
    ]);
    const histories = weights(await sut().weighingHistories(['dev-a'], at(0), at(60), 5));
    expect(histories.get('dev-a')).toEqual([
      { type: 'invalid_signature', at: at(1) },
      { type: 'impossible_travel', at: at(0) },
    ]);
  });

  it("should keep a device's genuine event in its weighing history however many later events of another type (the bound is per type)", async () => {
    const at = (second: number) => new Date(Date.UTC(2026, 0, 5, 0, 0, second));
    const genuine = event({ deviceId: 'dev-a', type: 'impossible_travel', at: at(0) });
    await sut().recordAll([
      genuine,
      // an enrolled phone sending garbage packets: each a malformed_packet, all newer
      ...Array.from({ length: 1000 }, (_, i) =>
        event({ deviceId: 'dev-a', type: 'malformed_packet', at: at(1 + (i % 3000)) }),
      ),
    ]);
    const read = (await sut().weighingHistories(['dev-a'], at(0), at(4000), 1000)).get('dev-a')!;
    expect(read.filter((w) => w.id === genuine.id).map(({ type, at }) => ({ type, at }))).toEqual([
      { type: 'impossible_travel', at: at(0) },
    ]);
    expect(read.filter((w) => w.type === 'malformed_packet')).toHaveLength(1000);
    // the bound holds per type
    const few = (await sut().weighingHistories(['dev-a'], at(0), at(4000), 5)).get('dev-a')!;
    expect(few.map((w) => w.type)).toEqual([
      ...Array.from({ length: 5 }, () => 'malformed_packet'),
      'impossible_travel',
    ]);
  });

  it('should read exactly what the per-type read gives, whether the newest across types fill the bound or not', async () => {
    const at = (second: number) => new Date(Date.UTC(2026, 0, 5, 0, 0, second));
    // a small deterministic generator: the same rows on both stores
    let seed = 7;
    const next = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const types: FraudEventType[] = [
      'malformed_packet',
      'invalid_signature',
      'impossible_travel',
      'rapid_repeat',
      'device_blocked',
    ];
    const events: FraudEvent[] = [
      // fewer than any bound: the read across types comes back short
      event({ deviceId: 'dev-few', type: 'shared_device', at: at(10) }),
      event({ deviceId: 'dev-few', type: 'invalid_token', at: at(10) }),
      // a flood of one type, newest, over a few older events of three others
      ...Array.from({ length: 30 }, (_, i) =>
        event({ deviceId: 'dev-flood', type: 'malformed_packet', at: at(100 + i) }),
      ),
      ...Array.from({ length: 9 }, (_, i) =>
        event({ deviceId: 'dev-flood', type: types[1 + (i % 3)], at: at(50 + (i % 4)) }),
      ),
      // refused syncs only: weighs nothing
      ...Array.from({ length: 8 }, (_, i) =>
        event({ deviceId: 'dev-blocked', type: 'device_blocked', at: at(20 + i) }),
      ),
      // mixed types, times that tie across types (the id decides), some out of range
      ...Array.from({ length: 60 }, () =>
        event({ deviceId: 'dev-mixed', type: types[next(types.length)], at: at(next(40)) }),
      ),
    ];
    await sut().recordAll(events);
    const dismissed = new Set(
      events.filter((e) => e.deviceId === 'dev-mixed' && next(5) === 0).map((e) => e.id),
    );
    for (const id of dismissed) await sut().addReview(id, review());
    const devices = ['dev-few', 'dev-flood', 'dev-blocked', 'dev-mixed', 'dev-none'];
    for (const perType of [1, 2, 3, 5, 8, 12, 40]) {
      for (const [from, to] of [
        [at(0), at(200)],
        [at(5), at(30)],
      ]) {
        const read = await sut().weighingHistories(devices, from, to, perType);
        const ids = new Map([...read].map(([d, ws]) => [d, ws.map((w) => w.id)]));
        expect({ perType, from, ids }).toEqual({
          perType,
          from,
          ids: perTypeReference(events, dismissed, from, to, perType),
        });
      }
    }
  });

  it('should read the weighing history of a page of devices in one MongoDB query a device, more only for a device whose newest fill the bound', async () => {
    if (driver() === 'sqlite') return; // in-process: the per-type seeks cost no round trip
    const at = (second: number) => new Date(Date.UTC(2026, 0, 5, 0, 0, second));
    // a ?trust=live page: 99 devices with a few events, one flooded
    const quiet = Array.from({ length: 99 }, (_, i) => `dev-${i}`);
    await sut().recordAll([
      ...quiet.flatMap((deviceId, i) => [
        event({ deviceId, type: 'invalid_signature', at: at(i) }),
        event({ deviceId, type: 'rapid_repeat', at: at(i + 1) }),
      ]),
      ...Array.from({ length: 12 }, (_, i) =>
        event({ deviceId: 'dev-flood', type: 'malformed_packet', at: at(10 + i) }),
      ),
      event({ deviceId: 'dev-flood', type: 'impossible_travel', at: at(1) }),
    ]);
    // an adapter of its own on the same database, over a connection whose commands are counted
    const mongoose = await import('mongoose');
    const connection = mongoose.createConnection(MONGODB_URI!, {
      dbName: (store() as MongoStore).connection.name,
      monitorCommands: true,
    });
    await connection.asPromise();
    const finds: string[] = [];
    connection.getClient().on('commandStarted', (e) => {
      if (e.commandName === 'find') finds.push(e.command.find as string);
    });
    const monitored = new MongoStore(connection, true);
    const compiled = await compileAdapter<FraudEventRepository>(monitored, fraudEventAdapters, {
      init: false,
    });
    try {
      const read = await compiled.adapter.weighingHistories(
        [...quiet, 'dev-flood'],
        at(0),
        at(60),
        5,
      );
      expect(read.get('dev-0')!.map((w) => w.type)).toEqual(['rapid_repeat', 'invalid_signature']);
      expect(read.get('dev-flood')!.map((w) => w.type)).toEqual([
        ...Array.from({ length: 5 }, () => 'malformed_packet'),
        'impossible_travel',
      ]);
      // a device: one query across the types; the flooded one: the types its read did not fill
      expect(finds).toHaveLength(quiet.length + 1 + (WEIGHING_EVENT_TYPES.length - 1));
      expect(new Set(finds)).toEqual(new Set(['fraud_events']));
    } finally {
      await compiled.close();
      await monitored.close();
    }
  });

  it('should drop, on MongoDB, the trust read index an older release declared (fraud_events_weighing), once', async () => {
    if (driver() === 'sqlite') return; // fraud migration 9 drops it (sqlite-fraud.migrations.ts)
    const events = (store() as MongoStore).connection.db!.collection('fraud_events');
    // the index as the release before the per-type read declared it
    await events.createIndex(
      { deviceId: 1, at: -1, _id: -1, type: 1, 'review.decision': 1 },
      {
        name: 'fraud_events_weighing',
        partialFilterExpression: {
          $or: [{ type: { $lt: 'device_blocked' } }, { type: { $gt: 'device_blocked' } }],
        },
      },
    );
    const names = async () => (await events.listIndexes().toArray()).map((i) => i.name as string);
    expect(await names()).toContain('fraud_events_weighing');
    // what the app does on start
    const start = () => (sut() as unknown as { onModuleInit(): Promise<void> }).onModuleInit();
    await start();
    expect(await names()).not.toContain('fraud_events_weighing');
    expect(await names()).toContain('fraud_events_weighing_type');
    // a second start finds nothing to drop
    await start();
    expect(await names()).toContain('fraud_events_weighing_type');
  });

  it('should round-trip events, newest first', async () => {
    const older = event();
    const newer = event({ at: new Date('2026-01-02T00:00:00.000Z'), packetId: undefined });
    await sut().recordAll([older, newer]);
    expect(await sut().listRecent({ limit: 10 })).toEqual([newer, older]);
  });

  it('should filter by type, device, worker, site and time, and honour the limit', async () => {
    await sut().recordAll([
      event({ type: 'device_blocked', at: new Date('2026-01-01T00:00:00Z') }),
      event({ deviceId: 'dev-2', at: new Date('2026-01-02T00:00:00Z') }),
      event({ workerId: 'wrk-2', at: new Date('2026-01-03T00:00:00Z') }),
      event({ siteId: 'site-2', at: new Date('2026-01-04T00:00:00Z') }),
    ]);
    const types = async (criteria: Parameters<ReturnType<typeof sut>['listRecent']>[0]) =>
      (await sut().listRecent(criteria)).map((e) => e.at.toISOString().slice(0, 10));
    expect(await types({ type: 'device_blocked', limit: 10 })).toEqual(['2026-01-01']);
    expect(await types({ deviceId: 'dev-2', limit: 10 })).toEqual(['2026-01-02']);
    expect(await types({ workerId: 'wrk-2', limit: 10 })).toEqual(['2026-01-03']);
    expect(await types({ siteId: 'site-2', limit: 10 })).toEqual(['2026-01-04']);
    expect(
      await types({
        from: new Date('2026-01-02T00:00:00Z'),
        to: new Date('2026-01-03T00:00:00Z'),
        limit: 10,
      }),
    ).toEqual(['2026-01-03', '2026-01-02']);
    expect(await types({ limit: 1 })).toEqual(['2026-01-04']);
  });

  it('should page newest first with a keyset cursor, ties broken by id, without gaps or repeats', async () => {
    const sameInstant = new Date('2026-01-05T00:00:00Z');
    const ids = [
      '0000000000000000000000a1',
      '0000000000000000000000a2',
      '0000000000000000000000a3',
    ];
    await sut().recordAll([
      event({ id: ids[0], at: sameInstant }),
      event({ id: ids[2], at: sameInstant }),
      event({ id: ids[1], at: sameInstant }),
      event({ id: '0000000000000000000000b1', at: new Date('2026-01-04T00:00:00Z') }),
      event({ id: '0000000000000000000000b2', at: new Date('2026-01-06T00:00:00Z') }),
    ]);
    const seen: string[] = [];
    let before: { at: Date; id: string } | undefined;
    for (;;) {
      const page = await sut().listRecent({ limit: 2, before });
      seen.push(...page.map((e) => e.id));
      if (page.length < 2) break;
      before = { at: page[1].at, id: page[1].id };
    }
    expect(seen).toEqual([
      '0000000000000000000000b2',
      ids[2],
      ids[1],
      ids[0],
      '0000000000000000000000b1',
    ]);
    expect(
      (
        await sut().listRecent({
          limit: 10,
          deviceId: 'dev-1',
          before: { at: sameInstant, id: ids[1] },
        })
      ).map((e) => e.id),
    ).toEqual([ids[0], '0000000000000000000000b1']);
  });

  it('should combine the cursor with a time window on either side of it', async () => {
    const day = (d: number) => new Date(`2026-01-${String(d).padStart(2, '0')}T00:00:00Z`);
    await sut().recordAll(
      [1, 2, 3, 4, 5].map((d) => event({ id: `00000000000000000000000${d}`, at: day(d) })),
    );
    const ids = async (criteria: Parameters<ReturnType<typeof sut>['listRecent']>[0]) =>
      (await sut().listRecent(criteria)).map((e) => e.id.slice(-1));
    const cursor = (d: number) => ({ at: day(d), id: `00000000000000000000000${d}` });
    // cursor inside the window: the cursor bounds the page
    expect(await ids({ limit: 10, from: day(2), to: day(4), before: cursor(4) })).toEqual([
      '3',
      '2',
    ]);
    // cursor after the window: `to` bounds the page
    expect(await ids({ limit: 10, from: day(2), to: day(3), before: cursor(5) })).toEqual([
      '3',
      '2',
    ]);
    // cursor at `to` itself: strictly before it
    expect(await ids({ limit: 10, to: day(3), before: cursor(3) })).toEqual(['2', '1']);
  });

  it('should declare an index for the review filter, (review decision, at, id)', async () => {
    const s = store();
    if (driver() === 'mongo') {
      const indexes = await (s as MongoStore).connection.collection('fraud_events').indexes();
      expect(indexes.map((i) => i.key)).toContainEqual({ 'review.decision': 1, at: -1, _id: -1 });
    } else {
      const columns = (s as SqliteStore).db
        .prepare("SELECT name FROM pragma_index_info('fraud_events_review_at_id') ORDER BY seqno")
        .all()
        .map((row) => (row as { name: string }).name);
      expect(columns).toEqual(['review_decision', 'at', 'id']);
    }
  });

  it('should record a review as the current one and keep every review, oldest first', async () => {
    const e = event();
    await sut().recordAll([e]);
    const dismissed = review();
    const first = await sut().addReview(e.id, dismissed);
    expect(first).toEqual({ event: { ...e, review: dismissed }, recorded: true });
    const confirmed = review({
      decision: 'confirmed',
      reason: 'seen on camera at another site',
      by: 'admin:key-2',
      at: new Date('2026-01-11T00:00:00.000Z'),
    });
    expect(await sut().addReview(e.id, confirmed)).toEqual({
      event: { ...e, review: confirmed },
      recorded: true,
    });
    expect(await sut().findWithReviews(e.id)).toEqual({
      event: { ...e, review: confirmed },
      reviews: [dismissed, confirmed],
    });
    expect(await sut().listRecent({ limit: 10 })).toEqual([{ ...e, review: confirmed }]);
  });

  it('should record nothing for the same decision and reason as the current review (a retry)', async () => {
    const e = event();
    await sut().recordAll([e]);
    const dismissed = review();
    await sut().addReview(e.id, dismissed);
    const retry = review({ at: new Date('2026-01-12T00:00:00.000Z') });
    expect(await sut().addReview(e.id, retry)).toEqual({
      event: { ...e, review: dismissed },
      recorded: false,
    });
    // another reason is a new review, and then the first one again is too
    const reworded = review({ reason: 'double tap on the kiosk' });
    expect((await sut().addReview(e.id, reworded))?.recorded).toBe(true);
    expect((await sut().addReview(e.id, retry))?.recorded).toBe(true);
    expect((await sut().findWithReviews(e.id))?.reviews).toEqual([dismissed, reworded, retry]);
  });

  it('should answer undefined for an unknown event, and record nothing', async () => {
    await sut().recordAll([event()]);
    const unknown = newId();
    expect(await sut().addReview(unknown, review())).toBeUndefined();
    expect(await sut().findWithReviews(unknown)).toBeUndefined();
    expect((await sut().listRecent({ limit: 10 }))[0].review).toBeUndefined();
  });

  it('should filter by review state, alone and with another filter and the cursor', async () => {
    const day = (d: number) => new Date(`2026-01-0${d}T00:00:00Z`);
    const events = [1, 2, 3, 4, 5, 6].map((d) =>
      event({ id: `00000000000000000000000${d}`, at: day(d), deviceId: `dev-${d % 2}` }),
    );
    await sut().recordAll(events);
    await sut().addReview(events[0].id, review());
    await sut().addReview(events[1].id, review({ decision: 'confirmed' }));
    await sut().addReview(events[2].id, review({ decision: 'confirmed' }));
    await sut().addReview(events[2].id, review());
    await sut().addReview(events[3].id, review());
    const ids = async (criteria: Parameters<ReturnType<typeof sut>['listRecent']>[0]) =>
      (await sut().listRecent(criteria)).map((e) => e.id.slice(-1));
    expect(await ids({ limit: 10, review: 'unreviewed' })).toEqual(['6', '5']);
    expect(await ids({ limit: 10, review: 'dismissed' })).toEqual(['4', '3', '1']);
    expect(await ids({ limit: 10, review: 'confirmed' })).toEqual(['2']);
    expect(await ids({ limit: 10, review: 'dismissed', deviceId: 'dev-1' })).toEqual(['3', '1']);
    expect(
      await ids({ limit: 10, review: 'dismissed', before: { at: day(4), id: events[3].id } }),
    ).toEqual(['3', '1']);
    expect(await ids({ limit: 1, review: 'dismissed', from: day(2), to: day(3) })).toEqual(['3']);
  });

  it('should leave dismissed events out of what weighs on trust, and keep confirmed ones', async () => {
    const [a, b, c] = [1, 2, 3].map((d) =>
      event({ at: new Date(`2026-01-0${d}T00:00:00Z`), deviceId: 'dev-9' }),
    );
    await sut().recordAll([a, b, c]);
    await sut().addReview(a.id, review());
    await sut().addReview(b.id, review({ decision: 'confirmed' }));
    const weighing = await sut().listRecent({
      deviceId: 'dev-9',
      from: new Date('2026-01-01T00:00:00Z'),
      excludeDismissed: true,
      limit: 10,
    });
    expect(weighing.map((e) => e.id)).toEqual([c.id, b.id]);
    // dismissed, then confirmed by a later review: it weighs again
    await sut().addReview(a.id, review({ decision: 'confirmed' }));
    expect(
      (await sut().listRecent({ deviceId: 'dev-9', excludeDismissed: true, limit: 10 })).length,
    ).toBe(3);
  });

  it('should accept an empty batch', async () => {
    await sut().recordAll([]);
    expect(await sut().listRecent({ limit: 5 })).toEqual([]);
  });
});
