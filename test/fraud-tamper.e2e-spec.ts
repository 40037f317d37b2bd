import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { FraudEvent, FraudService } from '@app/fraud';
import { MongoStore, Store } from '@app/persistence';
import { gauge, http, itOnSqliteFile, startTestApp, TestApp } from './support/test-app';
import { enrollPhone, signPacket, syncBatch } from './support/worker-client';

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
    t = await startTestApp();
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

  it('should not block a device automatically on fraud rows inserted outside the server, and report them', async () => {
    const p = await enrollPhone(t.baseUrl, t.keys.admin, undefined, { simHash: 'framed-sim-0001' });
    // nine untagged rows at full weight: 30 + 24 + 24, capped at 60, would take the device from
    // 65 (50 and its app's +15) to 5, under the floor of 20
    const now = Date.now();
    const forged = ['impossible_travel', 'invalid_signature', 'shared_device'].flatMap((type) =>
      [1, 2, 3].map((i) => ({ id: id(), type, at: new Date(now - i * 1000) })),
    );
    for (const f of forged) {
      if (file) {
        file
          .prepare(
            `INSERT INTO fraud_events (id, type, device_id, detail, at) VALUES (?, ?, ?, 'framed', ?)`,
          )
          .run(f.id, f.type, p.deviceId, f.at.toISOString());
      } else {
        await mongo().insertOne({
          _id: f.id as never,
          type: f.type,
          deviceId: p.deviceId,
          detail: 'framed',
          at: f.at,
        });
      }
    }
    const trust = await get(`/api/v5/devices/${p.deviceId}/trust`);
    expect(trust.body.score).toBeLessThan(20);
    const synced = await syncBatch(t.baseUrl, p.token, [
      signPacket(p, {
        timestamp: new Date(now - 30_000).toISOString(),
        geo: { lat: 28.6139, lng: 77.209, accuracyM: 10 },
      }),
    ]);
    expect(synced.status).toBe(200);
    expect(synced.body.accepted).toBe(1);
    const device = await get(`/api/v5/devices/${p.deviceId}`);
    expect(device.body.events.filter((e: any) => e.action === 'blocked')).toEqual([]);
    const onHealth = await tamperedOnHealth();
    for (const f of forged) expect(onHealth).toContain(f.id);
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
