import { MongoStore, SqliteStore, Store } from '@app/persistence';
import { fraudEventFault, fraudEventsOf } from './support/fraud-event-fault';
import { startTestApp, TestApp } from './support/test-app';
import { createSite, phoneAt, punch } from './support/timesheet-client';
import { Phone, signPacket, syncBatch } from './support/worker-client';

/**
 * A sync whose fraud events the store fails to write after its accepted packets were appended,
 * over real HTTP. The fault is the database's own refusal of the write, put in behind the
 * server's back (a SQLite trigger, a MongoDB unique index on the phone's events). The sync
 * answered the store's 503 `storage_unavailable`, "nothing was changed": untrue, the accepted
 * punch is in the ledger. Now it answers 503 `sync_screen_unfinished`, saying so, and the same
 * batch sent again once the store writes answers the accepted punch `duplicate` (MongoDB:
 * `accepted`, its batch's pending marker taken over and screened) and records the refusals.
 */
describe('a sync whose fraud events fail after its append (e2e)', () => {
  let t: TestApp;
  afterAll(() => t?.close());

  const breakStore = (deviceId: string) => fraudEventFault(t).break(deviceId);
  const repairStore = () => fraudEventFault(t).repair();
  const eventsOf = (phone: Phone) => fraudEventsOf(t, phone.deviceId, 'timestamp_in_future');

  const typesOf = async (phone: Phone) =>
    (await fraudEventsOf(t, phone.deviceId)).map((e) => e.type).sort();

  it("should record a refusal once when the pattern rules' findings failed with it (one write: all or none)", async () => {
    // a fresh app each: mongomock builds the fault's partial index over every event stored
    await t?.close();
    t = await startTestApp();
    const { siteId } = await createSite(t.baseUrl, t.keys.admin);
    const phone = await phoneAt(t.baseUrl, t.keys.admin, siteId);
    // two check-ins 10 s apart (a rapid_repeat finding) and a packet signed with another secret
    // (invalid_signature: unsigned, so not told apart from a new refusal by `refusedBefore`)
    const batch = [
      punch(phone, 'check_in', new Date(Date.now() - 120_000).toISOString()),
      punch(phone, 'check_in', new Date(Date.now() - 110_000).toISOString()),
      signPacket(phone, { siteId }, Buffer.alloc(32, 7)),
    ];

    await breakStore(phone.deviceId);
    const failed = await syncBatch(t.baseUrl, phone.token, batch);
    expect([failed.status, failed.body.code]).toEqual([503, 'sync_screen_unfinished']);
    // the refusal and the finding were one write: neither is stored (the refusal was, and the
    // re-send stored it a second time)
    expect(await typesOf(phone)).toEqual([]);

    await repairStore();
    const again = await syncBatch(t.baseUrl, phone.token, batch);
    expect(again.status).toBe(200);
    const types = await typesOf(phone);
    expect(types.filter((type) => type === 'invalid_signature')).toHaveLength(1);
    // MongoDB: the re-send took the released pending marker over and screened the stored
    // punches (the finding recorded then); SQLite does not screen a duplicate again
    expect(types.includes('rapid_repeat')).toBe(t.app.get(Store) instanceof MongoStore);
  });

  it('should answer a sync whose device touch fails after the append as it is (the punch is recorded)', async () => {
    // a fresh app each: mongomock builds the fault's partial index over every event stored
    await t?.close();
    t = await startTestApp();
    const store = t.app.get(Store);
    // MongoDB's wire server (mongomock) has no way to refuse one update; SQLite's trigger does
    if (store instanceof MongoStore) return;
    const { siteId } = await createSite(t.baseUrl, t.keys.admin);
    const phone = await phoneAt(t.baseUrl, t.keys.admin, siteId);
    const batch = [
      punch(phone, 'check_in', new Date(Date.now() - 120_000).toISOString()),
      signPacket(phone, { siteId }, Buffer.alloc(32, 7)),
    ];
    const db = (store as SqliteStore).db;
    db.exec(
      `CREATE TRIGGER fault_touch BEFORE UPDATE OF last_seen ON worker_devices
       WHEN NEW.device_id = '${phone.deviceId}' BEGIN SELECT RAISE(ABORT, 'fault'); END`,
    );
    try {
      const synced = await syncBatch(t.baseUrl, phone.token, batch);
      // it was 500 internal_error: the phone sent again what is stored, its refusal recorded twice
      expect(synced.status).toBe(200);
      expect(synced.body.results.map((r: { status: string }) => r.status)).toEqual([
        'accepted',
        'rejected',
      ]);
    } finally {
      db.exec('DROP TRIGGER fault_touch');
    }
    expect(await typesOf(phone)).toEqual(['invalid_signature']);
  });

  it('should answer a sync whose post-append floor block fails to be written as it is, and block at the next sync', async () => {
    await t?.close();
    // a registered phone scores 50: over the floor, and under it once an old app version's
    // header counts (a packet of the sync appended: it proved the secret)
    t = await startTestApp({ TRUST_AUTO_BLOCK_FLOOR: '45', TRUST_MIN_APP_VERSION: '99.0.0' });
    const store = t.app.get(Store);
    // MongoDB's wire server (mongomock) has no way to refuse one update; SQLite's trigger does
    if (store instanceof MongoStore) return;
    const { siteId } = await createSite(t.baseUrl, t.keys.admin);
    const phone = await phoneAt(t.baseUrl, t.keys.admin, siteId);
    const old = { 'x-app-version': '0.0.1' };
    const db = (store as SqliteStore).db;
    db.exec(
      `CREATE TRIGGER fault_block BEFORE UPDATE OF is_blocked ON worker_devices
       WHEN NEW.is_blocked = 1 BEGIN SELECT RAISE(ABORT, 'fault'); END`,
    );
    try {
      const first = punch(phone, 'check_in', new Date(Date.now() - 120_000).toISOString());
      const synced = await syncBatch(t.baseUrl, phone.token, [first], old);
      // it was 500 internal_error: the phone sent again what is stored
      expect(synced.status).toBe(200);
      expect(synced.body.results[0].status).toBe('accepted');
    } finally {
      db.exec('DROP TRIGGER fault_block');
    }
    // the block was not recorded, and is not dropped: the next sync appending judges again
    const next = punch(phone, 'check_out', new Date(Date.now() - 60_000).toISOString());
    expect((await syncBatch(t.baseUrl, phone.token, [next], old)).status).toBe(200);
    const after = await syncBatch(t.baseUrl, phone.token, [next], old);
    expect([after.status, after.body.code]).toEqual([403, 'device_blocked']);
  });

  it('should answer 503 sync_screen_unfinished with the accepted punch kept, and finish the refusals when the batch is sent again', async () => {
    // a fresh app each: mongomock builds the fault's partial index over every event stored
    await t?.close();
    t = await startTestApp();
    const { siteId } = await createSite(t.baseUrl, t.keys.admin);
    const phone = await phoneAt(t.baseUrl, t.keys.admin, siteId);
    const future = new Date(Date.now() + 3 * 3600_000);
    const batch = [
      punch(phone, 'check_in', new Date(Date.now() - 60_000).toISOString()),
      punch(phone, 'check_in', future.toISOString()),
      punch(phone, 'check_out', new Date(future.getTime() + 60_000).toISOString()),
    ];

    await breakStore(phone.deviceId);
    const failed = await syncBatch(t.baseUrl, phone.token, batch);
    expect([failed.status, failed.body.code]).toEqual([503, 'sync_screen_unfinished']);
    expect(failed.body.message).not.toMatch(/nothing was changed/);
    expect(failed.body.message).toMatch(/accepted are recorded/);
    expect(await eventsOf(phone)).toEqual([]);

    await repairStore();
    const again = await syncBatch(t.baseUrl, phone.token, batch);
    expect(again.status).toBe(200);
    // MongoDB: the failed sync released its batch's pending marker, so the re-send takes it
    // over and screens the stored punch as the fresh one it is (answered `accepted`)
    expect(again.body.results.map((r: { status: string }) => r.status)).toEqual([
      t.app.get(Store) instanceof MongoStore ? 'accepted' : 'duplicate',
      'rejected',
      'rejected',
    ]);
    expect(await eventsOf(phone)).toHaveLength(2);
  });
});
