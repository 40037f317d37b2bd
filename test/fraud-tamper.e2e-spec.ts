import Database from 'better-sqlite3';
import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { FraudEvent, FraudService } from '@app/fraud';
import { LedgerService } from '@app/offline-sync';
import { punchEntry } from '@app/offline-sync/testing/punch-entry';
import { MongoStore, Store } from '@app/persistence';
import { restartApp, withStoreFile } from './support/tamper';
import { gauge, http, itOnSqliteFile, startTestApp, TestApp } from './support/test-app';
import { createSite } from './support/timesheet-client';
import { enrollPhone, Phone, signPacket, syncBatch } from './support/worker-client';

/**
 * Tester finding M3: fraud events and their reviews decide who gets paid, and were plain rows:
 * a database writer (no TLOG_SIGNING_KEY) could change an event's type, dismiss a flagged punch
 * by rewriting its review, or delete a review, and nothing noticed. Each row now carries the
 * server's tag (FraudSeal); here the rows are changed on the suite's store (SQLite: a connection
 * of its own to the server's file; MongoDB: the server's database, written directly) and the API
 * marks them `tampered`, refuses to review them, and /health and the metric report them, while
 * the genuine rows are served as before.
 */
const id = () => randomBytes(12).toString('hex');

describe('fraud events changed outside the server (e2e)', () => {
  let t: TestApp;
  /** SQLite: a connection of its own to the server's file (absent on MongoDB). */
  let file: Database.Database | undefined;
  beforeAll(async () => {
    // one device's 1,100 seeded events below are stored in one minute (FRAUD_DEVICE_PER_MINUTE)
    t = await startTestApp({ FRAUD_DEVICE_PER_MINUTE: '1000000' });
    if (t.config.database.driver === 'sqlite') {
      file = new Database(join(t.dataDir, 'mdai.sqlite'));
    }
  });
  afterAll(async () => {
    file?.close();
    await t.close();
  });

  const mongo = () => t.app.get<Store, MongoStore>(Store).connection.collection('fraud_events');
  const get = (path: string) => http(t.baseUrl, 'GET', path, { key: t.keys.admin });
  const review = (eventId: string, decision: string, reason: string) =>
    http(t.baseUrl, 'POST', `/api/v5/fraud/events/${eventId}/review`, {
      key: t.keys.admin,
      body: { decision, reason },
    });

  /** A device's flagged punch: one impossible-travel event, on a device of its own. */
  async function flagged(): Promise<FraudEvent> {
    const event = await t.app.get(FraudService).record({
      type: 'impossible_travel',
      deviceId: id(),
      workerId: id(),
      siteId: id(),
      packetId: id(),
      detail: '50 km in a minute',
    });
    return event!;
  }

  async function listed(deviceId: string) {
    const res = await get(`/api/v5/fraud/events?deviceId=${deviceId}`);
    expect(res.status).toBe(200);
    return res.body as Array<{ id: string; type: string; integrity: string; review?: any }>;
  }

  async function tamperedOnHealth(): Promise<string[]> {
    const res = await get('/health');
    const fraud = (res.body as { details: { fraud: { events?: Array<{ eventId: string }> } } })
      .details.fraud;
    return (fraud.events ?? []).map((e) => e.eventId);
  }

  it('should serve genuine events and their reviews as verified', async () => {
    const e = await flagged();
    expect((await review(e.id, 'confirmed', 'seen on camera')).status).toBe(201);
    expect((await review(e.id, 'dismissed', 'the camera was wrong')).status).toBe(201);
    const [row] = await listed(e.deviceId!);
    expect(row).toMatchObject({
      id: e.id,
      integrity: 'verified',
      review: { decision: 'dismissed' },
    });
    const detail = await get(`/api/v5/fraud/events/${e.id}`);
    expect(detail.body).toMatchObject({
      integrity: 'verified',
      reviews: [{ integrity: 'verified' }, { integrity: 'verified' }],
    });
    expect(await tamperedOnHealth()).not.toContain(e.id);
    // the start tagged the rows from before the tags (none on a new store), and says so
    const health = await get('/health');
    expect(health.body.details.fraud).toMatchObject({
      legacySealedAt: expect.any(String),
      legacySealedCount: 0,
    });
    expect(health.body.details.fraud.legacySealRefused).toBeUndefined();
  });

  it('should mark an event whose type was changed as tampered, refuse its review, and report it on /health and the metric', async () => {
    const e = await flagged();
    const genuine = await flagged();
    const before = await gauge(t.baseUrl, 'mdai_fraud_events_tampered_total');
    if (file) {
      file.prepare("UPDATE fraud_events SET type = 'rapid_repeat' WHERE id = ?").run(e.id);
    } else {
      await mongo().updateOne({ _id: e.id as never }, { $set: { type: 'rapid_repeat' } });
    }
    const [row] = await listed(e.deviceId!);
    expect(row).toMatchObject({ id: e.id, type: 'rapid_repeat', integrity: 'tampered' });
    expect((await listed(genuine.deviceId!))[0].integrity).toBe('verified');
    const refused = await review(e.id, 'dismissed', 'a bad GPS fix');
    expect(refused.status).toBe(503);
    expect(refused.body.code).toBe('fraud_event_tampered');
    expect((await get(`/api/v5/fraud/events/${e.id}`)).body.reviews).toEqual([]);
    expect(await tamperedOnHealth()).toContain(e.id);
    expect(await gauge(t.baseUrl, 'mdai_fraud_events_tampered_total')).toBe(before + 1);
    // read again: counted once
    await listed(e.deviceId!);
    expect(await gauge(t.baseUrl, 'mdai_fraud_events_tampered_total')).toBe(before + 1);
  });

  it("should count each of 1,100 tampered events once however often they are read, and keep /health's list as it was", async () => {
    // review F5: /health lists the newest 1,000 found; one read of more let go of the first, and
    // the next read counted those again (and listed them again, churning the list)
    const deviceId = id();
    const events = await t.app.get(FraudService).recordAll(
      Array.from({ length: 1100 }, () => ({
        type: 'impossible_travel' as const,
        deviceId,
        detail: '50 km in a minute',
      })),
    );
    expect(events).toHaveLength(1100);
    if (file) {
      file
        .prepare("UPDATE fraud_events SET type = 'rapid_repeat' WHERE device_id = ?")
        .run(deviceId);
    } else {
      await mongo().updateMany({ deviceId }, { $set: { type: 'rapid_repeat' } });
    }
    /** Every event of the device, page after page: the ids read as tampered. */
    async function readAll(): Promise<string[]> {
      const tampered: string[] = [];
      let cursor = '';
      for (;;) {
        const res = await get(`/api/v5/fraud/events?deviceId=${deviceId}&limit=500${cursor}`);
        expect(res.status).toBe(200);
        const rows = res.body as Array<{ id: string; integrity: string }>;
        tampered.push(...rows.filter((r) => r.integrity === 'tampered').map((r) => r.id));
        const next = res.headers.get('x-next-cursor');
        if (!next) return tampered;
        cursor = `&cursor=${encodeURIComponent(next)}`;
      }
    }
    const healthList = async () => (await get('/health')).body.details.fraud.events;
    const before = await gauge(t.baseUrl, 'mdai_fraud_events_tampered_total');
    expect(await readAll()).toHaveLength(1100);
    expect(await gauge(t.baseUrl, 'mdai_fraud_events_tampered_total')).toBe(before + 1100);
    const listed = await healthList();
    const ids = new Set(events.map((e) => e.id));
    expect(listed.length).toBeGreaterThan(0);
    for (const e of listed) expect(ids.has(e.eventId)).toBe(true);
    // read again, twice: nothing counted again, the list as it was
    expect(await readAll()).toHaveLength(1100);
    expect(await readAll()).toHaveLength(1100);
    expect(await gauge(t.baseUrl, 'mdai_fraud_events_tampered_total')).toBe(before + 1100);
    expect(await healthList()).toEqual(listed);
  });

  it('should mark an event whose confirmation was rewritten into a dismissal as tampered', async () => {
    const e = await flagged();
    expect((await review(e.id, 'confirmed', 'seen on camera')).status).toBe(201);
    if (file) {
      file
        .prepare("UPDATE fraud_event_reviews SET decision = 'dismissed' WHERE event_id = ?")
        .run(e.id);
      file.prepare("UPDATE fraud_events SET review_decision = 'dismissed' WHERE id = ?").run(e.id);
    } else {
      await mongo().updateOne(
        { _id: e.id as never },
        { $set: { 'review.decision': 'dismissed', 'reviews.0.decision': 'dismissed' } },
      );
    }
    const [row] = await listed(e.deviceId!);
    expect(row).toMatchObject({ integrity: 'tampered', review: { decision: 'dismissed' } });
    const detail = await get(`/api/v5/fraud/events/${e.id}`);
    expect(detail.body).toMatchObject({
      integrity: 'tampered',
      reviews: [{ integrity: 'tampered' }],
    });
    expect(await tamperedOnHealth()).toContain(e.id);
  });

  it('should mark an event whose latest review was deleted as tampered in its detail, and refuse a new review', async () => {
    const e = await flagged();
    expect((await review(e.id, 'confirmed', 'seen on camera')).status).toBe(201);
    expect((await review(e.id, 'dismissed', 'the camera was wrong')).status).toBe(201);
    if (file) {
      file.prepare('DELETE FROM fraud_event_reviews WHERE event_id = ? AND seq = 2').run(e.id);
    } else {
      await mongo().updateOne({ _id: e.id as never }, { $pop: { reviews: 1 } });
    }
    const detail = await get(`/api/v5/fraud/events/${e.id}`);
    expect(detail.status).toBe(200);
    expect(detail.body).toMatchObject({
      integrity: 'tampered',
      reviews: [{ integrity: 'verified' }],
    });
    const refused = await review(e.id, 'confirmed', 'again');
    expect(refused.status).toBe(503);
    expect(refused.body.code).toBe('fraud_event_tampered');
    expect(await tamperedOnHealth()).toContain(e.id);
  });

  /** Inserts untagged fraud rows for a device, as a database writer would. */
  async function insertRows(
    app: TestApp,
    rows: Array<{
      id: string;
      type: string;
      deviceId?: string;
      packetId?: string;
      workerId?: string;
      siteId?: string;
      at: Date;
    }>,
  ): Promise<void> {
    for (const f of rows) {
      if (app.config.database.driver === 'sqlite') {
        withStoreFile(app, (db) =>
          db
            .prepare(
              `INSERT INTO fraud_events (id, type, device_id, worker_id, site_id, packet_id, detail, at)
               VALUES (?, ?, ?, ?, ?, ?, 'framed', ?)`,
            )
            .run(
              f.id,
              f.type,
              f.deviceId ?? null,
              f.workerId ?? null,
              f.siteId ?? null,
              f.packetId ?? null,
              f.at.toISOString(),
            ),
        );
      } else {
        await app.app
          .get<Store, MongoStore>(Store)
          .connection.collection('fraud_events')
          .insertOne({
            _id: f.id as never,
            type: f.type,
            ...(f.deviceId ? { deviceId: f.deviceId } : {}),
            ...(f.workerId ? { workerId: f.workerId } : {}),
            ...(f.siteId ? { siteId: f.siteId } : {}),
            ...(f.packetId ? { packetId: f.packetId } : {}),
            detail: 'framed',
            at: f.at,
          });
      }
    }
  }

  /** Nine rows at full weight: 30 + 24 + 24, capped at 60 (a device at 65 would score 5). */
  const nineRows = (deviceId: string) => {
    const now = Date.now();
    return ['impossible_travel', 'invalid_signature', 'shared_device'].flatMap((type) =>
      [1, 2, 3].map((i) => ({ id: id(), type, deviceId, at: new Date(now - i * 1000) })),
    );
  };

  /**
   * A sync of one punch by `p` on `app`: accepted, the device not blocked, and the punch as the
   * ledger and the timesheet record it (its trust score, no `lowTrust`, no `low_trust` flag).
   */
  async function syncedUnmarked(app: TestApp, p: Phone): Promise<void> {
    const timestamp = new Date(Date.now() - 30_000).toISOString();
    const synced = await syncBatch(app.baseUrl, p.token, [
      signPacket(p, { timestamp, geo: { lat: 28.6139, lng: 77.209, accuracyM: 10 } }),
    ]);
    expect([synced.status, synced.body.accepted]).toEqual([200, 1]);
    const device = await http(app.baseUrl, 'GET', `/api/v5/devices/${p.deviceId}`, {
      key: app.keys.admin,
    });
    expect(device.body.events.filter((e: any) => e.action === 'blocked')).toEqual([]);
    const ledger = await fetch(`${app.baseUrl}/api/v5/ledger/${p.siteId}/export`, {
      headers: { 'x-api-key': app.keys.auditor },
    });
    const line = JSON.parse((await ledger.text()).trim().split('\n').pop()!);
    expect(line.meta.deviceTrustScore).toBeGreaterThanOrEqual(40);
    expect(line.meta.lowTrust).toBeUndefined();
    const day = (offset: number) =>
      new Date(Date.parse(timestamp) + offset * 86_400_000).toISOString().slice(0, 10);
    const sheet = await http(
      app.baseUrl,
      'GET',
      `/api/v5/sites/${p.siteId}/timesheets?from=${day(-1)}&to=${day(1)}`,
      { key: app.keys.auditor },
    );
    expect(sheet.status).toBe(200);
    const flags = (sheet.body.days as Array<{ flags: Array<{ type: string }> }>).flatMap(
      (d) => d.flags,
    );
    expect(sheet.body.days.length).toBeGreaterThan(0);
    expect(flags.filter((f) => f.type === 'low_trust')).toEqual([]);
  }

  it('should not lower the trust score, mark punches low trust nor block a device on fraud rows inserted outside the server, and report them', async () => {
    const p = await enrollPhone(t.baseUrl, t.keys.admin, undefined, { simHash: 'framed-sim-0001' });
    const forged = nineRows(p.deviceId);
    await insertRows(t, forged);
    // review M2: they counted in the score (5), so the punch below was `lowTrust` (and the
    // device blocked before review H3)
    const trust = await get(`/api/v5/devices/${p.deviceId}/trust`);
    expect(trust.body.factors).toContainEqual({
      name: 'fraud_history',
      effect: 0,
      detail: 'no fraud events in the last 30 days',
    });
    await syncedUnmarked(t, p);
    const onHealth = await tamperedOnHealth();
    for (const f of forged) expect(onHealth).toContain(f.id);
  });

  it('should refuse the legacy tagging without FRAUD_LEGACY_TAGGING after every tagged row was deleted and the marker cleared, and with it count the legacy rows for nothing: no lower score, no low trust, no block', async () => {
    // a store of its own: the attack deletes every tagged fraud row of the store
    let u = await startTestApp();
    try {
      const p = await enrollPhone(u.baseUrl, u.keys.admin, undefined, {
        simHash: 'legacy-sim-0001',
      });
      const forged = nineRows(p.deviceId);
      await insertRows(u, forged);
      // the fraud_seal marker cleared (no tagged row to delete on this store): the next start
      // takes the store for one from before the tags and tags the untagged rows as legacy
      if (u.config.database.driver === 'sqlite') {
        withStoreFile(u, (db) => {
          db.prepare('DELETE FROM fraud_events WHERE tag IS NOT NULL').run();
          db.prepare(
            'UPDATE fraud_seal SET legacy_sealed_at = NULL, legacy_sealed_count = NULL',
          ).run();
        });
      } else {
        const connection = u.app.get<Store, MongoStore>(Store).connection;
        await connection.collection('fraud_events').deleteMany({ tag: { $exists: true } });
        await connection.collection('fraud_seal').deleteMany({});
      }
      // review M3: the store cannot tell this from one from before the tags; without the
      // operator's FRAUD_LEGACY_TAGGING (off by default in production) the start refuses
      u = await restartApp(u, undefined, { FRAUD_LEGACY_TAGGING: '0' });
      const refused = await http(u.baseUrl, 'GET', `/api/v5/fraud/events?deviceId=${p.deviceId}`, {
        key: u.keys.admin,
      });
      expect(refused.body.map((e: { integrity: string }) => e.integrity)).toEqual(
        forged.map(() => 'tampered'),
      );
      const health = await http(u.baseUrl, 'GET', '/health', { key: u.keys.admin });
      expect(health.body.details.fraud).toMatchObject({
        legacySealRefused: true,
        legacySealRefusedReason: 'not_allowed',
        message: expect.stringContaining('FRAUD_LEGACY_TAGGING'),
      });
      expect(health.body.details.fraud.legacySealedAt).toBeUndefined();
      // with it (the upgrade of a store from before the tags), they are tagged as legacy
      u = await restartApp(u, undefined, { FRAUD_LEGACY_TAGGING: '1' });
      const listed = await http(u.baseUrl, 'GET', `/api/v5/fraud/events?deviceId=${p.deviceId}`, {
        key: u.keys.admin,
      });
      expect(listed.body.map((e: { integrity: string }) => e.integrity)).toEqual(
        forged.map(() => 'legacy'),
      );
      // legacy rows weigh nothing: before, they took the score to 5 and blocked the device
      const trust = await http(u.baseUrl, 'GET', `/api/v5/devices/${p.deviceId}/trust`, {
        key: u.keys.admin,
      });
      expect(trust.body.factors).toContainEqual({
        name: 'fraud_history',
        effect: 0,
        detail: 'no fraud events in the last 30 days',
      });
      await syncedUnmarked(u, p);
    } finally {
      await u.close();
    }
  });

  it('should leave events changed or inserted outside the server out of the timesheet fraud flags', async () => {
    const { siteId } = await createSite(t.baseUrl, t.keys.admin, 'Asia/Kolkata');
    const workerId = id();
    const deviceId = id();
    const [packetA, packetB] = [randomUUID(), randomUUID()];
    const [checkIn, checkOut] = await t.app.get(LedgerService).append(
      [
        {
          ...punchEntry({
            siteId,
            workerId,
            deviceId,
            type: 'check_in',
            timestamp: '2026-03-02T03:30:00.000Z',
          }),
          packetId: packetA,
        },
        {
          ...punchEntry({
            siteId,
            workerId,
            deviceId,
            type: 'check_out',
            timestamp: '2026-03-02T11:30:00.000Z',
          }),
          packetId: packetB,
        },
      ].map((e) => ({ ...e, data: { ...e.data, packetId: e.packetId } })),
    );
    const fraud = t.app.get(FraudService);
    const named = (packetId: string) => ({ deviceId, workerId, siteId, packetId, detail: 'x' });
    await fraud.record({ type: 'outside_geofence', ...named(packetA) });
    // a genuine event whose type is changed, and a row inserted without a tag
    const changed = (await fraud.record({ type: 'rapid_repeat', ...named(packetB) }))!;
    if (file) {
      file
        .prepare("UPDATE fraud_events SET type = 'impossible_travel' WHERE id = ?")
        .run(changed.id);
    } else {
      await mongo().updateOne(
        { _id: changed.id as never },
        { $set: { type: 'impossible_travel' } },
      );
    }
    const forgedId = id();
    await insertRows(t, [
      { id: forgedId, type: 'shared_device', ...named(packetB), at: new Date() },
    ]);
    const res = await http(
      t.baseUrl,
      'GET',
      `/api/v5/sites/${siteId}/timesheets?from=2026-03-02&to=2026-03-02`,
      { key: t.keys.auditor },
    );
    expect(res.status).toBe(200);
    const [day] = res.body.days as { flags: { type: string; seq: number; detail?: string }[] }[];
    expect([checkIn.status, checkOut.status]).toEqual(['appended', 'appended']);
    expect(day.flags.filter((f) => f.type === 'fraud')).toEqual([
      { type: 'fraud', seq: checkIn.log.seq, detail: 'outside_geofence' },
    ]);
    // their stored types are not shown, but the punch they name still asks for a look: a
    // dismissal written into the store breaks the tag the same way and clears nothing
    expect(day.flags.filter((f) => f.type === 'fraud_tampered')).toEqual([
      { type: 'fraud_tampered', seq: checkOut.log.seq },
    ]);
    const onHealth = await tamperedOnHealth();
    expect(onHealth).toEqual(expect.arrayContaining([changed.id, forgedId]));
  });

  itOnSqliteFile(
    'should not answer a sync 500 when the forged rows weighed before a block end on a time that is no date',
    async () => {
      const p = await enrollPhone(t.baseUrl, t.keys.admin, undefined, {
        simHash: 'framed-sim-0002',
      });
      // a full page of untagged rows (500), the oldest with a time that sorts inside the window
      // as text but is no date: the page's cursor (review of the merges, M1)
      const now = Date.now();
      const insert = file!.prepare(
        `INSERT INTO fraud_events (id, type, device_id, detail, at) VALUES (?, 'impossible_travel', ?, 'framed', ?)`,
      );
      for (let i = 1; i <= 500; i++) {
        const at = new Date(now - i * 1000).toISOString();
        insert.run(id(), p.deviceId, i === 500 ? `${at}x` : at);
      }
      const synced = await syncBatch(t.baseUrl, p.token, [
        signPacket(p, {
          timestamp: new Date(now - 30_000).toISOString(),
          geo: { lat: 28.6139, lng: 77.209, accuracyM: 10 },
        }),
      ]);
      expect([synced.status, synced.body.accepted]).toEqual([200, 1]);
      const device = await get(`/api/v5/devices/${p.deviceId}`);
      expect(device.body.events.filter((e: any) => e.action === 'blocked')).toEqual([]);
    },
  );

  it('should show a review whose stored time is not a date as null and tampered, not answer 500', async () => {
    const e = await flagged();
    expect((await review(e.id, 'confirmed', 'seen on camera')).status).toBe(201);
    if (file) {
      file.prepare("UPDATE fraud_events SET review_at = 'garbage' WHERE id = ?").run(e.id);
      file.prepare("UPDATE fraud_event_reviews SET at = 'garbage' WHERE event_id = ?").run(e.id);
    } else {
      await mongo().updateOne(
        { _id: e.id as never },
        { $set: { 'review.at': 'garbage', 'reviews.0.at': 'garbage' } },
      );
    }
    const [row] = await listed(e.deviceId!);
    expect(row).toMatchObject({ integrity: 'tampered', review: { at: null } });
    const detail = await get(`/api/v5/fraud/events/${e.id}`);
    expect(detail.status).toBe(200);
    expect(detail.body).toMatchObject({
      integrity: 'tampered',
      review: { at: null, integrity: 'tampered' },
      reviews: [{ at: null, integrity: 'tampered' }],
    });
  });
});
