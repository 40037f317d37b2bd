import { randomBytes } from 'node:crypto';
import { ManualClock } from '@app/common';
import { MongoStore, Store } from '@app/persistence';
import { withStoreFile } from './support/tamper';
import { http, startTestApp, TestApp } from './support/test-app';
import {
  enrollPhone,
  Packet,
  Phone,
  refreshToken,
  signPacket,
  syncBatch,
} from './support/worker-client';

/**
 * A worker device's block state and its events changed by someone who can write the database
 * (review F9): the state and the events carry the server's store-MAC tags (WorkerDeviceSeal),
 * so `is_blocked` set back to 0 does not let a blocked phone sync, and an `unblocked` event
 * inserted with a date in the future does not hold off the automatic block.
 */
const SITE = { lat: 28.6139, lng: 77.209 };
const EARTH_RADIUS_M = 6_371_008.8;

function north(from: { lat: number; lng: number }, metres: number) {
  return { lat: from.lat + (metres / EARTH_RADIUS_M) * (180 / Math.PI), lng: from.lng };
}

function packet(
  phone: Phone,
  at: Date,
  where: { lat: number; lng: number },
  overrides: Record<string, unknown> = {},
): Packet {
  return signPacket(phone, {
    timestamp: at.toISOString(),
    geo: { lat: where.lat, lng: where.lng, accuracyM: 10 },
    ...overrides,
  });
}

describe('worker device block state changed outside the server (e2e)', () => {
  let t: TestApp;
  const clock = new ManualClock(new Date(Math.floor(Date.now() / 1000) * 1000));
  beforeAll(async () => {
    t = await startTestApp({}, { clock });
  });
  afterAll(async () => t.close());

  const devices = () =>
    t.app.get<Store, MongoStore>(Store).connection.collection<any>('worker_devices');

  /** Sets the stored block state of a device as a database writer would. */
  async function setStoredBlocked(deviceId: string, blocked: boolean): Promise<void> {
    if (t.config.database.driver === 'sqlite') {
      const changed = withStoreFile(
        t,
        (db) =>
          db
            .prepare('UPDATE worker_devices SET is_blocked = ? WHERE device_id = ?')
            .run(blocked ? 1 : 0, deviceId).changes,
      );
      expect(changed).toBe(1);
    } else {
      await devices().updateOne({ deviceId }, { $set: { isBlocked: blocked } });
    }
  }

  /** Inserts an `unblocked` event for a device as a database writer would. */
  async function insertUnblock(deviceId: string, at: Date): Promise<void> {
    const id = randomBytes(12).toString('hex');
    const event = { action: 'unblocked', actor: 'admin:000000000000', reason: 'forged', at };
    if (t.config.database.driver === 'sqlite') {
      withStoreFile(t, (db) =>
        db
          .prepare(
            `INSERT INTO worker_device_events (id, device_id, action, actor, reason, at)
             VALUES (?, ?, ?, ?, ?, ?)`,
          )
          .run(id, deviceId, event.action, event.actor, event.reason, at.toISOString()),
      );
    } else {
      await devices().updateOne(
        { deviceId },
        { $push: { events: { _id: id, ...event } as never } },
      );
    }
  }

  const detail = async (deviceId: string) => {
    const res = await http(t.baseUrl, 'GET', `/api/v5/devices/${deviceId}`, {
      key: t.keys.admin,
    });
    expect(res.status).toBe(200);
    return res.body;
  };
  const admin = (deviceId: string, action: 'block' | 'unblock') =>
    http(t.baseUrl, 'POST', `/api/v5/devices/${deviceId}/${action}`, {
      key: t.keys.admin,
      body: { reason: `${action} by the admin` },
    });

  it('should keep refusing a blocked phone whose is_blocked was set to 0 in the database, until an admin unblocks it', async () => {
    const p = await enrollPhone(t.baseUrl, t.keys.admin, undefined, { simHash: 'tamper-sim-01' });
    expect(await detail(p.deviceId)).toMatchObject({
      isBlocked: false,
      blockIntegrity: 'verified',
      events: [{ action: 'registered', integrity: 'verified' }],
    });
    expect((await admin(p.deviceId, 'block')).status).toBe(200);
    const refused = await syncBatch(t.baseUrl, p.token, [packet(p, clock.now(), SITE)]);
    expect(refused.status).toBe(403);

    await setStoredBlocked(p.deviceId, false);
    const sync = await syncBatch(t.baseUrl, p.token, [packet(p, clock.now(), SITE)]);
    expect(sync.status).toBe(403);
    expect(sync.body.code).toBe('device_blocked');
    const refresh = await refreshToken(t.baseUrl, p, clock.now().toISOString());
    expect(refresh.status).toBe(403);
    expect(refresh.body.code).toBe('device_blocked');
    expect(await detail(p.deviceId)).toMatchObject({
      isBlocked: true,
      blockIntegrity: 'tampered',
    });
    const listed = await http(t.baseUrl, 'GET', `/api/v5/devices?limit=100`, {
      key: t.keys.admin,
    });
    expect(listed.body.find((d: any) => d.deviceId === p.deviceId)).toMatchObject({
      isBlocked: true,
      blockIntegrity: 'tampered',
    });

    // the repair: an admin's explicit unblock tags the state again
    expect((await admin(p.deviceId, 'unblock')).status).toBe(200);
    expect(await detail(p.deviceId)).toMatchObject({
      isBlocked: false,
      blockIntegrity: 'verified',
    });
    const after = await syncBatch(t.baseUrl, p.token, [packet(p, clock.now(), SITE)]);
    expect(after.status).toBe(200);
    expect(after.body.accepted).toBe(1);

    // a state set to blocked in the database is tampered too (and blocked): a block repairs it
    await setStoredBlocked(p.deviceId, true);
    expect((await detail(p.deviceId)).blockIntegrity).toBe('tampered');
    expect((await admin(p.deviceId, 'block')).status).toBe(200);
    expect(await detail(p.deviceId)).toMatchObject({
      isBlocked: true,
      blockIntegrity: 'verified',
    });
  });

  /** The stored block state of a device (its flag, the event that set it, its tag). */
  async function storedState(deviceId: string): Promise<Record<string, unknown>> {
    if (t.config.database.driver === 'sqlite') {
      return withStoreFile(
        t,
        (db) =>
          db
            .prepare(
              'SELECT is_blocked, block_event_id, block_tag FROM worker_devices WHERE device_id = ?',
            )
            .get(deviceId) as Record<string, unknown>,
      );
    }
    return (await devices().findOne(
      { deviceId },
      { projection: { _id: 0, isBlocked: 1, blockEventId: 1, blockTag: 1 } },
    )) as Record<string, unknown>;
  }

  /** Puts back a saved block state of a device as a database writer would. */
  async function putBackState(deviceId: string, state: Record<string, unknown>): Promise<void> {
    if (t.config.database.driver === 'sqlite') {
      withStoreFile(t, (db) =>
        db
          .prepare(
            `UPDATE worker_devices SET is_blocked = @is_blocked, block_event_id = @block_event_id,
               block_tag = @block_tag WHERE device_id = @device_id`,
          )
          .run({ ...state, device_id: deviceId }),
      );
    } else {
      await devices().updateOne({ deviceId }, { $set: state });
    }
  }

  it('should keep refusing a blocked phone whose unblocked state from its enrollment (flag, event id, tag) was put back in the database', async () => {
    const p = await enrollPhone(t.baseUrl, t.keys.admin, undefined, { simHash: 'tamper-sim-03' });
    const enrolled = await storedState(p.deviceId);
    expect((await admin(p.deviceId, 'block')).status).toBe(200);
    await putBackState(p.deviceId, enrolled);
    const sync = await syncBatch(t.baseUrl, p.token, [packet(p, clock.now(), SITE)]);
    expect(sync.status).toBe(403);
    expect(sync.body.code).toBe('device_blocked');
    expect(await detail(p.deviceId)).toMatchObject({
      isBlocked: true,
      blockIntegrity: 'tampered',
    });
    // an admin's unblock is the repair
    expect((await admin(p.deviceId, 'unblock')).status).toBe(200);
    const after = await syncBatch(t.baseUrl, p.token, [packet(p, clock.now(), SITE)]);
    expect(after.status).toBe(200);
  });

  it("should refuse a phone with an unblocked event inserted with a date in the future until an admin unblocks it, and then block automatically from the admin's unblock, not the inserted one", async () => {
    const p = await enrollPhone(t.baseUrl, t.keys.admin, undefined, { simHash: 'tamper-sim-02' });
    await insertUnblock(p.deviceId, new Date(clock.now().getTime() + 365 * 86_400_000));
    const events = (await detail(p.deviceId)).events;
    expect(events.find((e: any) => e.action === 'unblocked').integrity).toBe('tampered');
    // the inserted event is the newest written: the state is not the one it set
    expect(await detail(p.deviceId)).toMatchObject({
      isBlocked: true,
      blockIntegrity: 'tampered',
    });
    const refused = await syncBatch(t.baseUrl, p.token, [packet(p, clock.now(), SITE)]);
    expect(refused.status).toBe(403);
    expect((await admin(p.deviceId, 'unblock')).status).toBe(200);
    clock.advance(600_000);

    // the fraud test suite's burst (fraud-trust.e2e-spec.ts): +15 for the app's headers, less
    // 52 for the burst's events = 13, under the floor of 20; with the forged unblock read as
    // the admin's, the floor would weigh no event (only those after it) and not block; from the
    // admin's unblock (before the burst) it weighs them all
    const at = clock.now().getTime() - 300_000;
    const forged = (ms: number) => ({
      ...packet(p, new Date(ms), SITE),
      signature: 'ab'.repeat(32),
    });
    const future = (ms: number) =>
      packet(p, new Date(clock.now().getTime() + 3_600_000 + ms), SITE);
    const burst = [
      packet(p, new Date(at), SITE),
      packet(p, new Date(at + 60_000), north(SITE, 50_000), { type: 'check_out' }),
      ...[1, 2, 3, 4].map((i) => forged(at + i * 1000)),
      ...[1, 2, 3, 4].map(future),
      ...[1, 2, 3].map((i) => ({
        ...packet(p, new Date(at + 10_000 + i), SITE),
        signature: 'AB'.repeat(32),
      })),
    ];
    const first = await syncBatch(t.baseUrl, p.token, burst);
    expect(first.status).toBe(200);
    const blocked = (await detail(p.deviceId)).events.filter((e: any) => e.action === 'blocked');
    expect(blocked).toHaveLength(1);
    expect(blocked[0]).toMatchObject({ actor: 'system:trust', integrity: 'verified' });
    const next = await syncBatch(t.baseUrl, p.token, [packet(p, clock.now(), SITE)]);
    expect(next.status).toBe(403);
    expect(next.body.code).toBe('device_blocked');
  });

  it('should log an ignored unblock once, however many syncs read it', async () => {
    const p = await enrollPhone(t.baseUrl, t.keys.admin, undefined, { simHash: 'tamper-sim-04' });
    // the burst of the test above: the score falls under the floor and the device is blocked
    const at = clock.now().getTime() - 300_000;
    const burst = [
      packet(p, new Date(at), SITE),
      packet(p, new Date(at + 60_000), north(SITE, 50_000), { type: 'check_out' }),
      ...[1, 2, 3, 4].map((i) => ({
        ...packet(p, new Date(at + i * 1000), SITE),
        signature: 'ab'.repeat(32),
      })),
      ...[1, 2, 3, 4].map((i) => packet(p, new Date(clock.now().getTime() + 3_600_000 + i), SITE)),
      ...[1, 2, 3].map((i) => ({
        ...packet(p, new Date(at + 10_000 + i), SITE),
        signature: 'AB'.repeat(32),
      })),
    ];
    expect((await syncBatch(t.baseUrl, p.token, burst)).status).toBe(200);
    expect((await detail(p.deviceId)).isBlocked).toBe(true);
    // a forged unblock dated in the future, then the admin's (the newest written): the score
    // stays under the floor, so every sync reads the device's unblocks and passes the forged one
    await insertUnblock(p.deviceId, new Date(clock.now().getTime() + 365 * 86_400_000));
    expect((await admin(p.deviceId, 'unblock')).status).toBe(200);
    clock.advance(60_000);
    const ignored = () =>
      t
        .logs()
        .split('\n')
        .filter((l) => l.includes('Worker device unblock ignored') && l.includes(p.deviceId));
    for (let i = 0; i < 2; i++) {
      clock.advance(1000);
      const sync = await syncBatch(t.baseUrl, p.token, [packet(p, clock.now(), SITE)]);
      expect(sync.status).toBe(200);
    }
    // before: one line per sync
    expect(ignored()).toHaveLength(1);
    expect(ignored()[0]).toContain('"integrity":"tampered"');
  });
});
