import { SqliteStore, Store } from '@app/persistence';
import { fraudEventsOf } from './support/fraud-event-fault';
import { http, MONGODB_URI, startTestApp, TestApp } from './support/test-app';
import { enrollPhone, signPacket, syncBatch } from './support/worker-client';

/**
 * A sync whose write before its batch fails with an error that is not the store's (a bug of
 * the server's own code), over real HTTP on a real SQLite file: the fraud event of a blocked
 * device's sync meets a TypeError, thrown by a JS function a trigger of the fraud events calls
 * (put in behind the server's back). It answered 503 `storage_unavailable` "nothing was
 * changed", so the phone would send the batch again forever; now it answers 500. A write the
 * database refuses (the trigger's RAISE) still answers 503. SQLite only: MongoDB runs no JS.
 */
const sqliteOnly = MONGODB_URI ? describe.skip : describe;

sqliteOnly('a sync whose pre-batch write fails with a bug, not the store (e2e)', () => {
  let t: TestApp;
  afterAll(() => t?.close());

  it('should answer 500 internal_error for a TypeError and 503 storage_unavailable for a refusal', async () => {
    t = await startTestApp();
    const p = await enrollPhone(t.baseUrl, t.keys.admin, undefined, { simHash: 'bug-not-store-1' });
    const blocked = await http(t.baseUrl, 'POST', `/api/v5/devices/${p.deviceId}/block`, {
      key: t.keys.admin,
      body: { reason: 'test' },
    });
    expect(blocked.status).toBe(200);
    const db = t.app.get<SqliteStore>(Store).db;
    let kind = 'type';
    db.function('fault_bug', () => {
      if (kind === 'type') throw new TypeError('a bug of the server');
      return 0;
    });
    db.exec(
      `CREATE TRIGGER fault_bug_trigger BEFORE INSERT ON fraud_events
       BEGIN SELECT fault_bug(); SELECT RAISE(ABORT, 'refused') WHERE fault_bug() = 0; END`,
    );

    const punch = signPacket(p, { timestamp: new Date(Date.now() - 30_000).toISOString() });
    const bug = await syncBatch(t.baseUrl, p.token, [punch]);
    expect([bug.status, bug.body.code]).toEqual([500, 'internal_error']);

    kind = 'refusal';
    const refusal = await syncBatch(t.baseUrl, p.token, [punch]);
    expect([refusal.status, refusal.body.code]).toEqual([503, 'storage_unavailable']);

    db.exec('DROP TRIGGER fault_bug_trigger');
    const refused = await syncBatch(t.baseUrl, p.token, [punch]);
    expect([refused.status, refused.body.code]).toEqual([403, 'device_blocked']);
    expect(await fraudEventsOf(t, p.deviceId, 'device_blocked')).toHaveLength(1);
  });

  it('should answer a ledger append the store refused 503 without claiming nothing was changed', async () => {
    const p = await enrollPhone(t.baseUrl, t.keys.admin, undefined, { simHash: 'bug-not-store-2' });
    const db = t.app.get<SqliteStore>(Store).db;
    db.exec(
      `CREATE TRIGGER fault_append BEFORE INSERT ON attendance_logs
       BEGIN SELECT RAISE(ABORT, 'fault'); END`,
    );
    const punch = signPacket(p, { timestamp: new Date(Date.now() - 30_000).toISOString() });
    const failed = await syncBatch(t.baseUrl, p.token, [punch]);
    expect([failed.status, failed.body.code]).toEqual([503, 'storage_unavailable']);
    // MongoDB's append may have stored a prefix of the batch: the message does not deny it
    expect(failed.body.message).not.toMatch(/nothing was changed/);
    expect(failed.body.message).toMatch(/come back accepted or duplicate/);

    db.exec('DROP TRIGGER fault_append');
    const sent = await syncBatch(t.baseUrl, p.token, [punch]);
    expect([sent.status, sent.body.accepted]).toEqual([200, 1]);
  });
});
