import { startUpstreamApps, UpstreamApps } from './support/fake-upstream';
import { TestKiosk } from './support/kiosk';
import { listedKiosk, refusedKioskAuth } from './support/pairing';
import { withStoreFile } from './support/tamper';
import { http, MONGODB_URI, TestApp } from './support/test-app';

/**
 * A whole earlier kiosk row put back by someone who can write the database (SQLite file): the
 * row's tag is the server's own, but it is bound to the event that set it (KioskSeal), and that
 * is no longer the kiosk's newest. The active row saved before a block, or the row of a key
 * rotated out, reads `tampered`: the kiosk is blocked with the codes fielded kiosks know, and
 * the listing says so. Deleting the newest event with it leaves a hole in the store's event
 * numbering: tampered too.
 */
const PLATFORM_ID = 'PLT_rolledBackKiosk';

type Row = Record<string, unknown>;

(MONGODB_URI ? describe.skip : describe)('a kiosk row put back whole (e2e, SQLite)', () => {
  let relay: UpstreamApps;
  let t: TestApp;
  beforeAll(async () => {
    relay = await startUpstreamApps({ env: { UPSTREAM_API_KEY: 'k' } });
    t = relay.t;
  });
  afterAll(() => relay.close());

  /** The kiosk's row as stored, every column. */
  const copyRow = (deviceId: string): Row =>
    withStoreFile(t, (db) =>
      db.prepare('SELECT * FROM kiosk_devices WHERE device_id = ?').get(deviceId),
    ) as Row;
  /** `row` written back over the kiosk's, every column. */
  const putBack = (row: Row, deleteNewestEvent = false): void =>
    withStoreFile(t, (db) => {
      const columns = Object.keys(row).filter((c) => c !== 'device_id');
      const changed = db
        .prepare(
          `UPDATE kiosk_devices SET ${columns.map((c) => `${c} = @${c}`).join(', ')} WHERE device_id = @device_id`,
        )
        .run(row).changes;
      expect(changed).toBe(1);
      if (deleteNewestEvent) {
        const gone = db
          .prepare(
            `DELETE FROM kiosk_events WHERE rowid =
               (SELECT max(rowid) FROM kiosk_events WHERE device_id = ?)`,
          )
          .run(row.device_id).changes;
        expect(gone).toBe(1);
      }
    });

  const admin = (path: string, body?: object, method = 'POST') =>
    http(t.baseUrl, method, path, { key: t.keys.admin, ...(body ? { body } : {}) });
  const challenge = async (deviceId: string) => {
    const res = await admin('/api/generate-challenge', {
      device_id: deviceId,
      wifi_ssid: 'Site-7 Office',
      wifi_password: 'Sup3r-Secret-WiFi-Pa55',
    });
    return res.status === 200 ? 200 : [res.status, res.body.code];
  };
  const kioskAuth = (kiosk: TestKiosk) => refusedKioskAuth(t, kiosk, PLATFORM_ID);
  const listed = (deviceId: string) => listedKiosk(t, deviceId);
  const act = async (deviceId: string, action: 'block' | 'unblock') =>
    expect((await admin(`/api/kiosks/${deviceId}/${action}`, { reason: 'review' })).status).toBe(
      200,
    );
  /** Read `tampered` wherever it is used: listed blocked, its challenge and relay auth refused. */
  const expectRefused = async (kiosk: TestKiosk) => {
    expect(await listed(kiosk.deviceId)).toMatchObject({
      status: 'blocked',
      integrity: 'tampered',
    });
    expect(await challenge(kiosk.deviceId)).toEqual([403, 'device_blocked']);
    expect(await kioskAuth(kiosk)).toEqual({ code: 'device_blocked', close: 4403 });
  };
  /** The repair: an admin's rotation to the kiosk's genuine key, tagged with the kiosk blocked. */
  const rotateToGenuineKey = async (kiosk: TestKiosk) => {
    const rotated = await admin(`/api/kiosks/${kiosk.deviceId}/rotate-key`, {
      public_key: kiosk.publicKeyPem,
      reason: 'row put back in the database',
    });
    expect([rotated.status, rotated.body.status, rotated.body.integrity]).toEqual([
      200,
      'blocked',
      'verified',
    ]);
  };

  it('should keep a blocked kiosk blocked when its active row from before the block is put back, and repair by a rotation to the genuine key then an unblock', async () => {
    const kiosk = await TestKiosk.registered(t, 'TEE-ROLLBACK-BLOCK');
    const active = copyRow(kiosk.deviceId);
    await act(kiosk.deviceId, 'block');
    putBack(active);

    await expectRefused(kiosk);
    await rotateToGenuineKey(kiosk);
    await act(kiosk.deviceId, 'unblock');
    expect(await listed(kiosk.deviceId)).toMatchObject({ status: 'active', integrity: 'verified' });
    expect(await challenge(kiosk.deviceId)).toBe(200);
  });

  it('should read a blocked row put back over the unblock that followed it as tampered', async () => {
    const kiosk = await TestKiosk.registered(t, 'TEE-ROLLBACK-UNBLOCK');
    await act(kiosk.deviceId, 'block');
    const blocked = copyRow(kiosk.deviceId);
    await act(kiosk.deviceId, 'unblock');
    putBack(blocked);
    expect(await listed(kiosk.deviceId)).toMatchObject({
      status: 'blocked',
      integrity: 'tampered',
    });
    expect(await challenge(kiosk.deviceId)).toEqual([403, 'device_blocked']);
  });

  it('should refuse a rotated-out key when the row from before the rotation is put back', async () => {
    const old = await TestKiosk.registered(t, 'TEE-ROLLBACK-KEY');
    const before = copyRow(old.deviceId);
    const renewed = new TestKiosk(old.deviceId);
    const rotated = await admin(`/api/kiosks/${old.deviceId}/rotate-key`, {
      public_key: renewed.publicKeyPem,
      reason: 'key leaked',
    });
    expect(rotated.status).toBe(200);
    putBack(before);

    await expectRefused(old);
  });

  it("should read a row put back with the kiosk's newest event deleted as tampered when another kiosk's event follows the row's (attack A)", async () => {
    const kiosk = await TestKiosk.registered(t, 'TEE-ROLLBACK-INTERLEAVED');
    // the store whole before (an event deleted anywhere makes every kiosk read tampered: this
    // runs before the test that deletes one)
    expect(await listed(kiosk.deviceId)).toMatchObject({ status: 'active', integrity: 'verified' });
    const active = copyRow(kiosk.deviceId);
    // another kiosk's event right after the row's, then the kiosk's block (the store's newest)
    await TestKiosk.registered(t, 'TEE-ROLLBACK-OTHER');
    await act(kiosk.deviceId, 'block');
    expect(await listed('TEE-ROLLBACK-OTHER')).toMatchObject({ integrity: 'verified' });
    withStoreFile(t, (db) => {
      const [other, mine] = db
        .prepare(`SELECT device_id FROM kiosk_events WHERE seq > ? ORDER BY seq`)
        .all(active.event_seq) as { device_id: string }[];
      expect([other.device_id, mine.device_id]).toEqual(['TEE-ROLLBACK-OTHER', kiosk.deviceId]);
    });
    putBack(active, true);

    await expectRefused(kiosk);

    // the hole fails every kiosk whose state is older than it (the other one too), each repaired
    // on its own: a rotation numbers its event past the mark
    expect(await listed('TEE-ROLLBACK-OTHER')).toMatchObject({ integrity: 'tampered' });
    await rotateToGenuineKey(kiosk);
    await act(kiosk.deviceId, 'unblock');
    expect(await listed(kiosk.deviceId)).toMatchObject({ status: 'active', integrity: 'verified' });
  });

  it("should read a row put back with the kiosk's newest event deleted as tampered", async () => {
    const kiosk = await TestKiosk.registered(t, 'TEE-ROLLBACK-DELETED');
    const active = copyRow(kiosk.deviceId);
    await act(kiosk.deviceId, 'block');
    putBack(active, true);
    expect(await listed(kiosk.deviceId)).toMatchObject({
      status: 'blocked',
      integrity: 'tampered',
    });
    expect(await challenge(kiosk.deviceId)).toEqual([403, 'device_blocked']);
  });

  it("should keep a row put back with the kiosk's newest event deleted tampered when the mark is deleted too and another kiosk's registration writes the next event", async () => {
    const kiosk = await TestKiosk.registered(t, 'TEE-ROLLBACK-UNMARKED');
    const active = copyRow(kiosk.deviceId);
    await act(kiosk.deviceId, 'block');
    putBack(active, true);
    withStoreFile(t, (db) =>
      expect(db.prepare('DELETE FROM kiosk_event_mark').run().changes).toBe(1),
    );
    expect(await listed(kiosk.deviceId)).toMatchObject({ integrity: 'tampered' });

    // the next kiosk write anywhere: numbered from the events alone it would take the deleted
    // event's number, and its fresh mark would make the numbering whole again
    await TestKiosk.registered(t, 'TEE-ROLLBACK-AFTER-UNMARKED');
    expect(await listed('TEE-ROLLBACK-AFTER-UNMARKED')).toMatchObject({ integrity: 'verified' });
    await expectRefused(kiosk);
    await rotateToGenuineKey(kiosk);
  });
});
