import { fraudEventFault, fraudEventsOf } from './support/fraud-event-fault';
import { startTestApp, TestApp } from './support/test-app';
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

  const breakStore = (deviceId: string) => fraudEventFault(t).break(deviceId);
  const repairStore = () => fraudEventFault(t).repair();
  const eventsOf = (phone: Phone) => fraudEventsOf(t, phone.deviceId, 'invalid_signature');

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
