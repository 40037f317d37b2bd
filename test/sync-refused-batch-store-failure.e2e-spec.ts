import { MongoStore, SqliteStore, Store } from '@app/persistence';
import { http, startTestApp, TestApp } from './support/test-app';
import { enrollPhone, Phone, signPacket, syncBatch } from './support/worker-client';

/**
 * A batch refused whole for its HMACs (403 invalid_signatures) whose fraud events the store
 * fails to write, over real HTTP. The fault is the database's own refusal of the write, put in
 * behind the server's back, once the phone has an event in the batch: a SQLite trigger, a
 * MongoDB unique index on the phone's events. The sync answered 500 `internal_error` (the
 * failure carries no storage code), and MongoDB kept the events before the failing one; now it
 * answers the store's 503 `storage_unavailable`, nothing of the batch kept, and the same batch
 * sent again once the store writes is refused 403 with every event recorded (the minute's
 * budget the failed write took is given back).
 */
describe('a batch refused for its signatures when the store fails to record it (e2e)', () => {
  let t: TestApp;
  afterAll(() => t?.close());

  const FAULT = 'fault_one_event_per_device';

  /** The store refuses a second fraud event of `deviceId` (the first one of a batch passes). */
  const breakStore = async (deviceId: string) => {
    const store = t.app.get(Store);
    if (store instanceof MongoStore) {
      await store.connection
        .collection('fraud_events')
        .createIndex(
          { deviceId: 1 },
          { name: FAULT, unique: true, partialFilterExpression: { deviceId } },
        );
      return;
    }
    (store as SqliteStore).db.exec(
      `CREATE TRIGGER ${FAULT} BEFORE INSERT ON fraud_events
       WHEN (SELECT count(*) FROM fraud_events WHERE device_id = NEW.device_id) >= 1
       BEGIN SELECT RAISE(ABORT, 'fault'); END`,
    );
  };
  const repairStore = async () => {
    const store = t.app.get(Store);
    if (store instanceof MongoStore) {
      await store.connection.collection('fraud_events').dropIndex(FAULT);
      return;
    }
    (store as SqliteStore).db.exec(`DROP TRIGGER ${FAULT}`);
  };
  const eventsOf = async (phone: Phone) => {
    const res = await http(
      t.baseUrl,
      'GET',
      `/api/v5/fraud/events?deviceId=${phone.deviceId}&type=invalid_signature&limit=100`,
      { key: t.keys.admin },
    );
    expect(res.status).toBe(200);
    return res.body as unknown[];
  };

  it('should answer 503 storage_unavailable with nothing kept, and record the whole batch when it is sent again', async () => {
    t = await startTestApp();
    const phone = await enrollPhone(t.baseUrl, t.keys.admin);
    // FRAUD_DEVICE_PER_MINUTE (50) forged packets: the whole minute's budget of the type
    const forged = Array.from({ length: 50 }, (_, i) =>
      signPacket(phone, {}, Buffer.alloc(32, i + 1)),
    );

    await breakStore(phone.deviceId);
    const failed = await syncBatch(t.baseUrl, phone.token, forged);
    expect([failed.status, failed.body.code]).toEqual([503, 'storage_unavailable']);
    expect(failed.body.message).toMatch(/nothing was changed/);
    expect(await eventsOf(phone)).toEqual([]);

    await repairStore();
    const refused = await syncBatch(t.baseUrl, phone.token, forged);
    expect([refused.status, refused.body.code]).toEqual([403, 'invalid_signatures']);
    expect(await eventsOf(phone)).toHaveLength(50);
  });
});
