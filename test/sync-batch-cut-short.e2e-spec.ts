import { MongoStore, Store } from '@app/persistence';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OfflineSyncService } from '@app/offline-sync';
import { PENDING_BATCH_INSERTS_MS } from '@app/offline-sync/infrastructure/persistence/attendance-log.repository';
import { http, itOnMongo, pollUntil, startTestApp, TestApp } from './support/test-app';
import { createSite, phoneAt } from './support/timesheet-client';
import { Packet, Phone, signPacket, syncBatch } from './support/worker-client';

/**
 * docs/architecture.md "What this does not make atomic (reviewer G)": MongoDB inserts a sync
 * batch's entries one at a time, so a failure between two inserts kept the inserted prefix, and
 * the phone's retry answered those packets `duplicate`, never fraud-screened. A pending marker
 * written before the first insert makes the retry screen them (answered `accepted` with their
 * seq, their first answer), or the sweep when the phone never sends them again.
 */
describe('A sync batch cut short between two MongoDB inserts (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => t.close());

  const mongo = () => t.app.get<Store, MongoStore>(Store);
  const markers = () => mongo().connection.db!.collection('ledger_pending_batches');

  /** Three punches far outside the site's geofence (each an `outside_geofence` finding). */
  const farPunches = (phone: Phone): Packet[] =>
    [0, 1, 2].map((i) =>
      signPacket(phone, {
        timestamp: new Date(Date.now() - 60_000 + i * 1000).toISOString(),
        geo: { lat: 28.7, lng: 77.3, accuracyM: 8 },
      }),
    );

  /** A new site, a phone enrolled at it, and three punches of that phone far from the site. */
  const freshPhone = async (): Promise<{ siteId: string; phone: Phone; packets: Packet[] }> => {
    const { siteId } = await createSite(t.baseUrl, t.keys.admin);
    const phone = await phoneAt(t.baseUrl, t.keys.admin, siteId);
    return { siteId, phone, packets: farPunches(phone) };
  };

  /** The ledger's MongoDB model, to spy on its inserts, and its own `create` to call through. */
  const insertsOf = () => {
    const model = mongo().connection.model('AttendanceLogDocument');
    const create = model.create.bind(model) as (doc: unknown) => Promise<unknown>;
    return { model, create };
  };

  /**
   * Syncs `packets` with the store lost after the first `kept` inserts of the batch's links, and
   * lost for longer than the writer's inserts can land (PENDING_BATCH_INSERTS_END_MS).
   */
  const syncCutShort = async (phone: Phone, packets: Packet[], kept = 1) => {
    const { model, create } = insertsOf();
    let inserts = 0;
    const spy = jest.spyOn(model, 'create').mockImplementation((async (doc: unknown) => {
      if (++inserts > kept) throw new Error('connection lost (test)');
      return create(doc);
    }) as never);
    try {
      const res = await syncBatch(t.baseUrl, phone.token, packets);
      expect(res.status).toBeGreaterThanOrEqual(500);
    } finally {
      spy.mockRestore();
    }
    expect(inserts).toBe(kept + 1);
    // the lost insert may still land (a network error: its marker released, not `ended`):
    // the store stays lost longer than any insert of the writer can land
    await markers().updateMany({}, { $set: { at: new Date(Date.now() - 10 * 60_000) } });
  };

  /**
   * Syncs `packets` whole, with the sync stalled past its marker's lease after its last insert
   * (a failover, a slow site): meanwhile another replica's sweep takes the marker over (its
   * lease ended: by the store's clock, and by the writer's before the owner tokens) and screens
   * the batch. Answers the stalled sync's response.
   */
  const syncOverrun = async (phone: Phone, packets: Packet[]) => {
    const { model, create } = insertsOf();
    let inserts = 0;
    let swept = 0;
    const spy = jest.spyOn(model, 'create').mockImplementation((async (doc: unknown) => {
      const created = await create(doc);
      if (++inserts === packets.length) {
        await markers().updateMany({}, { $set: { leased: new Date(0), until: new Date(0) } });
        swept = await t.app.get(OfflineSyncService).screenPendingBatches();
      }
      return created;
    }) as never);
    try {
      return await syncBatch(t.baseUrl, phone.token, packets);
    } finally {
      spy.mockRestore();
      expect(swept).toBe(1);
    }
  };

  const geofenceEvents = async (phone: Phone): Promise<string[]> => {
    const res = await http(t.baseUrl, 'GET', `/api/v5/fraud/events?deviceId=${phone.deviceId}`, {
      key: t.keys.admin,
    });
    expect(res.status).toBe(200);
    return res.body
      .filter((e: { type: string }) => e.type === 'outside_geofence')
      .map((e: { packetId: string }) => e.packetId)
      .sort();
  };

  itOnMongo(
    'should screen the kept prefix when the phone sends the batch again, answering it accepted with its seq',
    async () => {
      const { phone, packets } = await freshPhone();
      await syncCutShort(phone, packets);
      expect(await markers().countDocuments({})).toBe(1);

      const retry = await syncBatch(t.baseUrl, phone.token, packets);
      expect(retry.status).toBe(200);
      expect(retry.body.results.map((r: { status: string }) => r.status)).toEqual([
        'accepted',
        'accepted',
        'accepted',
      ]);
      expect(retry.body.results[0].seq).toBe(1);
      expect(await geofenceEvents(phone)).toEqual(packets.map((p) => p.payload.packetId).sort());
      expect(await markers().countDocuments({})).toBe(0);

      // sent once more: plain duplicates, screened no more
      const again = await syncBatch(t.baseUrl, phone.token, packets);
      expect(again.body.duplicates).toBe(3);
      expect(await geofenceEvents(phone)).toHaveLength(3);
    },
  );

  itOnMongo(
    'should screen the kept prefix from the stored ledger in the sweep when the phone never sends it again',
    async () => {
      const { phone, packets } = await freshPhone();
      await syncCutShort(phone, packets);
      expect(await geofenceEvents(phone)).toEqual([]);

      // the failed sync released its marker's lease: the next sweep takes it (this one, or the
      // app's own timer if it ran meanwhile)
      await t.app.get(OfflineSyncService).screenPendingBatches();
      const screened = await pollUntil(
        () => geofenceEvents(phone),
        (ids) => ids.length > 0,
      );
      expect(screened).toEqual([packets[0].payload.packetId]);
      expect(await markers().countDocuments({})).toBe(0);

      // the prefix is screened: sent again it is a duplicate (the rest appended and screened)
      const retry = await syncBatch(t.baseUrl, phone.token, packets);
      expect(retry.body.results.map((r: { status: string }) => r.status)).toEqual([
        'duplicate',
        'accepted',
        'accepted',
      ]);
      expect(await geofenceEvents(phone)).toEqual(packets.map((p) => p.payload.packetId).sort());
    },
  );

  itOnMongo(
    'should screen a batch once when its sync runs past the lease and another replica sweeps it meanwhile',
    async () => {
      const { phone, packets } = await freshPhone();
      const res = await syncOverrun(phone, packets);
      // the stalled sync answers the stored packets as before: accepted, with their seqs
      expect(res.status).toBe(200);
      expect(res.body.results.map((r: { status: string }) => r.status)).toEqual([
        'accepted',
        'accepted',
        'accepted',
      ]);
      // screened by the sweep that took the marker over, not a second time by the stalled sync
      expect(await geofenceEvents(phone)).toEqual(packets.map((p) => p.payload.packetId).sort());
      expect(await markers().countDocuments({})).toBe(0);
    },
  );

  itOnMongo(
    'should screen the packets of a batch cut short that its re-send leaves out',
    async () => {
      const { phone, packets } = await freshPhone();
      await syncCutShort(phone, packets, 2);

      // the re-send carries the first packet only: it screens that one
      const retry = await syncBatch(t.baseUrl, phone.token, [packets[0]]);
      expect(retry.body.results.map((r: { status: string }) => r.status)).toEqual(['accepted']);
      expect(await geofenceEvents(phone)).toEqual([packets[0].payload.packetId]);

      // the second, stored but not sent again, is left named for the sweep (released at once)
      await t.app.get(OfflineSyncService).screenPendingBatches();
      const screened = await pollUntil(
        () => geofenceEvents(phone),
        (ids) => ids.length > 1,
      );
      expect(screened).toEqual([packets[0].payload.packetId, packets[1].payload.packetId].sort());
      expect(await markers().countDocuments({})).toBe(0);
    },
  );

  itOnMongo(
    'should answer a packet of a batch cut short listed twice in its re-send accepted once, then duplicate',
    async () => {
      const { phone, packets } = await freshPhone();
      await syncCutShort(phone, packets);

      const retry = await syncBatch(t.baseUrl, phone.token, [packets[0], ...packets]);
      expect(retry.status).toBe(200);
      expect(retry.body.results.map((r: { status: string }) => r.status)).toEqual([
        'accepted',
        'duplicate',
        'accepted',
        'accepted',
      ]);
      expect(retry.body.results[1].seq).toBe(retry.body.results[0].seq);
      expect(await geofenceEvents(phone)).toEqual(packets.map((p) => p.payload.packetId).sort());
      expect(await markers().countDocuments({})).toBe(0);
    },
  );

  itOnMongo(
    'should screen every packet once when the sweep takes the marker while its sync is still inserting (review R7)',
    async () => {
      const { phone, packets } = await freshPhone();
      // the sync stalls past its lease after its FIRST insert: the sweep takes the marker, and
      // finds one of its three packets stored
      const { model, create } = insertsOf();
      let inserts = 0;
      let swept = 0;
      const spy = jest.spyOn(model, 'create').mockImplementation((async (doc: unknown) => {
        const created = await create(doc);
        if (++inserts === 1) {
          await markers().updateMany({}, { $set: { leased: new Date(0), until: new Date(0) } });
          swept = await t.app.get(OfflineSyncService).screenPendingBatches();
        }
        return created;
      }) as never);
      let res;
      try {
        res = await syncBatch(t.baseUrl, phone.token, packets);
      } finally {
        spy.mockRestore();
      }
      expect(swept).toBe(1);
      expect(res.status).toBe(200);
      expect(res.body.accepted).toBe(3);
      // the sweep screened the one it found; the two inserted after stay named for the next
      expect(await geofenceEvents(phone)).toEqual([packets[0].payload.packetId]);
      const [left] = await markers().find({}).toArray();
      expect(left.keys.map((k: { p: string }) => k.p).sort()).toEqual(
        [packets[1].payload.packetId, packets[2].payload.packetId].sort(),
      );
      await t.app.get(OfflineSyncService).screenPendingBatches();
      const screened = await pollUntil(
        () => geofenceEvents(phone),
        (ids) => ids.length > 1,
      );
      expect(screened).toEqual(packets.map((p) => p.payload.packetId).sort());
      expect(await markers().countDocuments({})).toBe(0);
    },
  );

  itOnMongo(
    'should drop a key its marker names but the store never got once the writer cannot insert it any more',
    async () => {
      const { siteId, phone, packets } = await freshPhone();
      await syncBatch(t.baseUrl, phone.token, [packets[0]]);
      // a marker of a writer stalled past its lease, none of whose keys is stored yet
      const marker = {
        _id: 'stalled-writer' as never,
        owner: 'gone',
        siteIds: [siteId],
        keys: [{ p: packets[1].payload.packetId, d: phone.deviceId }],
        at: new Date(),
        leased: new Date(0),
      };
      await markers().insertOne(marker);
      await t.app.get(OfflineSyncService).screenPendingBatches();
      // the writer may still insert it: named still
      expect(await markers().countDocuments({ _id: marker._id })).toBe(1);
      // older than any insert of its writer can land: dropped
      await markers().updateOne(
        { _id: marker._id },
        { $set: { at: new Date(Date.now() - 10 * 60_000), leased: new Date(0) } },
      );
      await t.app.get(OfflineSyncService).screenPendingBatches();
      expect(await markers().countDocuments({ _id: marker._id })).toBe(0);
    },
  );

  itOnMongo(
    "should screen once the packets a re-send stored while the first sync's marker was still leased",
    async () => {
      const { phone, packets } = await freshPhone();
      // replica A stores the first packet, then stalls: the phone's re-send reaches replica B,
      // which finds A's marker leased, writes its own, stores and screens the other two; A then
      // fails, its marker (naming all three) left to the sweep
      const { model, create } = insertsOf();
      let inserts = 0;
      let resend: Awaited<ReturnType<typeof syncBatch>> | undefined;
      const spy = jest.spyOn(model, 'create').mockImplementation((async (doc: unknown) => {
        if (++inserts !== 2) return create(doc);
        resend = await syncBatch(t.baseUrl, phone.token, packets);
        throw new Error('connection lost (test)');
      }) as never);
      try {
        const first = await syncBatch(t.baseUrl, phone.token, packets);
        expect(first.status).toBeGreaterThanOrEqual(500);
      } finally {
        spy.mockRestore();
      }
      expect(resend!.status).toBe(200);
      expect(resend!.body.results.map((r: { status: string }) => r.status)).toEqual([
        'duplicate',
        'accepted',
        'accepted',
      ]);
      expect(await geofenceEvents(phone)).toEqual(
        packets
          .slice(1)
          .map((p) => p.payload.packetId)
          .sort(),
      );

      // B's settle took its two packets off A's marker: left naming the one A stored
      const left = await markers().find({}).toArray();
      expect(left.map((m) => (m.keys as unknown[]).length)).toEqual([1]);
      // the sweep takes A's marker: it screens the packet A stored, not B's a second time
      await markers().updateMany({}, { $set: { leased: new Date(0), until: new Date(0) } });
      await t.app.get(OfflineSyncService).screenPendingBatches();
      const screened = await pollUntil(
        () => geofenceEvents(phone),
        (ids) => ids.length >= 3,
      );
      expect(screened).toEqual(packets.map((p) => p.payload.packetId).sort());
      expect(await markers().countDocuments({})).toBe(0);
    },
  );

  itOnMongo(
    'should screen a packet whose insert failed with a network error but landed after (its marker not ended)',
    async () => {
      const { phone, packets } = await freshPhone();
      // the second insert's reply is lost: the sync fails, the insert lands after
      const { model, create } = insertsOf();
      let inserts = 0;
      let late: unknown;
      const spy = jest.spyOn(model, 'create').mockImplementation((async (doc: unknown) => {
        if (++inserts === 2) {
          late = doc;
          throw new Error('connection lost (test)');
        }
        return create(doc);
      }) as never);
      try {
        const res = await syncBatch(t.baseUrl, phone.token, packets);
        expect(res.status).toBeGreaterThanOrEqual(500);
      } finally {
        spy.mockRestore();
      }
      expect(inserts).toBe(2);
      // the marker is released, not ended: the sweep keeps the keys it finds unstored
      await t.app.get(OfflineSyncService).screenPendingBatches();
      await pollUntil(
        () => geofenceEvents(phone),
        (ids) => ids.length > 0,
      );
      expect(await markers().countDocuments({})).toBe(1);
      await create(late);
      await t.app.get(OfflineSyncService).screenPendingBatches();
      const screened = await pollUntil(
        () => geofenceEvents(phone),
        (ids) => ids.length >= 2,
      );
      expect(screened).toEqual(
        packets
          .slice(0, 2)
          .map((p) => p.payload.packetId)
          .sort(),
      );
      // the third, never sent, is dropped once the writer's inserts are over
      await markers().updateMany({}, { $set: { at: new Date(Date.now() - 10 * 60_000) } });
      await t.app.get(OfflineSyncService).screenPendingBatches();
      expect(await markers().countDocuments({})).toBe(0);
    },
  );

  itOnMongo(
    'should stop inserting at the deadline with a 503 the phone sees before nginx resends, saying some packets may be stored',
    async () => {
      const { phone, packets } = await freshPhone();
      // the deadline is under one nginx try of the sync route (its 30 s read timeout), so the
      // phone gets this answer, not nginx's resend to the other replica
      const conf = readFileSync(join(__dirname, '..', 'deploy', 'nginx.conf'), 'utf8');
      const readTimeout = /^ {2}proxy_read_timeout (\d+)s;$/m.exec(conf);
      expect(PENDING_BATCH_INSERTS_MS).toBeLessThan(Number(readTimeout![1]) * 1000);
      // the first insert done, the clock jumps past the deadline: the second is never sent
      const { model, create } = insertsOf();
      const now = performance.now.bind(performance);
      const clock = jest.spyOn(performance, 'now');
      let inserts = 0;
      const spy = jest.spyOn(model, 'create').mockImplementation((async (doc: unknown) => {
        inserts++;
        const created = await create(doc);
        clock.mockImplementation(() => now() + 10 * 60_000);
        return created;
      }) as never);
      try {
        const res = await syncBatch(t.baseUrl, phone.token, packets);
        expect(res.status).toBe(503);
        expect(res.body.code).toBe('store_unavailable');
        expect(res.body.message).toMatch(/some packets may be stored; send the batch again/i);
      } finally {
        spy.mockRestore();
        clock.mockRestore();
      }
      expect(inserts).toBe(1);
      // nothing in flight: the marker is ended, the keys never sent dropped by the sweep
      expect((await markers().findOne({}))!.ended).toBe(true);
      await t.app.get(OfflineSyncService).screenPendingBatches();
      const screened = await pollUntil(
        () => geofenceEvents(phone),
        (ids) => ids.length > 0,
      );
      expect(screened).toEqual([packets[0].payload.packetId]);
      expect(await markers().countDocuments({})).toBe(0);
    },
  );

  // both stores: a fresh batch listing a packet twice (what the re-send above answers alike)
  it('should answer a packet listed twice in a batch accepted once, then duplicate', async () => {
    const { phone, packets } = await freshPhone();
    const res = await syncBatch(t.baseUrl, phone.token, [packets[0], ...packets]);
    expect(res.status).toBe(200);
    expect(res.body.results.map((r: { status: string }) => r.status)).toEqual([
      'accepted',
      'duplicate',
      'accepted',
      'accepted',
    ]);
    expect(await geofenceEvents(phone)).toEqual(packets.map((p) => p.payload.packetId).sort());
  });
});
