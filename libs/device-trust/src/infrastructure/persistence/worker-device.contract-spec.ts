import { newId } from '@app/common';
import { describeStoreContract } from '@app/persistence/testing/store-contract';
import { WorkerDevice, WorkerDeviceEvent } from '../../domain/worker-device';
import { compileAdapter } from '@app/persistence/testing/compile-adapter';
import { IssuedToken, IssuedTokenRepository } from './issued-token.repository';
import { issuedTokenAdapters, workerDeviceAdapters } from './worker-persistence';

function device(deviceId = newId(), simHash = 'abcdef0123456789'): WorkerDevice {
  return {
    id: newId(),
    deviceId,
    user: { kind: 'worker', id: newId() },
    siteIds: [newId()],
    fingerprint: { os: 'Android 14', model: 'Redmi', simHash },
    sealedSecret: 'sealed1.v1.x.y.z',
    trustScore: 50,
    isBlocked: false,
    createdAt: new Date('2026-01-01T00:00:00.000Z'),
  };
}

function event(
  deviceId: string,
  action: WorkerDeviceEvent['action'],
  at = new Date('2026-01-01T00:00:00Z'),
): WorkerDeviceEvent {
  return { id: newId(), deviceId, action, actor: 'admin:000000000000', reason: 'why', at };
}

function firstToken(deviceId: string): IssuedToken {
  const now = Date.now();
  return {
    deviceId,
    tokenId: crypto.randomUUID(),
    keyId: '0123456789abcdef',
    issuedAt: new Date(now),
    expiresAt: new Date(now + 30 * 86_400_000),
    digest: 'd'.repeat(64),
    keepUntil: new Date(now + 45 * 86_400_000),
  };
}

describeStoreContract('WorkerDeviceRepository', workerDeviceAdapters, ({ sut, store, driver }) => {
  it('should round-trip a device and its registration event', async () => {
    const d = device();
    await sut().register(d, event(d.deviceId, 'registered'));
    expect(await sut().findByDeviceId(d.deviceId)).toEqual(d);
    expect((await sut().listEvents(d.deviceId)).map((e) => e.action)).toEqual(['registered']);
    expect(await sut().findByDeviceId(newId())).toBeUndefined();
  });

  it('should refuse a second device with the same deviceId', async () => {
    const d = device();
    await sut().register(d, event(d.deviceId, 'registered'));
    // a rejection from the native driver is not always an `Error` of jest's realm: check the outcome
    const outcome = await sut()
      .register(device(d.deviceId), event(d.deviceId, 'registered'))
      .then(
        () => 'stored',
        () => 'refused',
      );
    expect(outcome).toBe('refused');
    expect((await sut().listEvents(d.deviceId)).map((e) => e.action)).toEqual(['registered']);
  });

  it("should keep a registration whose device write failed though the device is stored, with its token's record", async () => {
    // MongoDB only: its device write is the second of two (no transaction), and a network error
    // or the driver's retry of an applied insert (E11000) can come back though it applied; here
    // the device is there already, as after such a write. SQLite's is one transaction
    if (driver() !== 'mongo') return;
    const tokens = await compileAdapter<IssuedTokenRepository>(store(), issuedTokenAdapters);
    try {
      const d = device();
      await sut().register(d, event(d.deviceId, 'registered'));
      const first = firstToken(d.deviceId);
      await sut().register(d, event(d.deviceId, 'registered'), first);
      expect(await sut().findByDeviceId(d.deviceId)).toEqual(d);
      expect(await tokens.adapter.isOnRecord(d.deviceId, first.tokenId, first.digest)).toBe(true);
    } finally {
      await tokens.close();
    }
  });

  it("should store a device with its first token's record, and neither when the device is refused", async () => {
    const tokens = await compileAdapter<IssuedTokenRepository>(store(), issuedTokenAdapters);
    try {
      const d = device();
      const first = firstToken(d.deviceId);
      await sut().register(d, event(d.deviceId, 'registered'), first);
      expect(await tokens.adapter.isOnRecord(d.deviceId, first.tokenId, first.digest)).toBe(true);
      // the same deviceId again: refused, and its token's record with it
      const second = firstToken(d.deviceId);
      const outcome = await sut()
        .register(device(d.deviceId), event(d.deviceId, 'registered'), second)
        .then(
          () => 'stored',
          () => 'refused',
        );
      expect(outcome).toBe('refused');
      expect(await tokens.adapter.isOnRecord(d.deviceId, second.tokenId, second.digest)).toBe(
        false,
      );
      // a record that cannot be written (its key taken) takes the device with it
      const e = device();
      const taken = { ...firstToken(e.deviceId), tokenId: first.tokenId, deviceId: d.deviceId };
      const refused = await sut()
        .register(e, event(e.deviceId, 'registered'), taken)
        .then(
          () => 'stored',
          () => 'refused',
        );
      expect(refused).toBe('refused');
      expect(await sut().findByDeviceId(e.deviceId)).toBeUndefined();
      expect(await tokens.adapter.isOnRecord(d.deviceId, first.tokenId, first.digest)).toBe(true);
    } finally {
      await tokens.close();
    }
  });

  it('should block and unblock with who/when/why, and report unknown devices', async () => {
    const d = device();
    await sut().register(d, event(d.deviceId, 'registered'));
    const blocked = await sut().setBlocked(
      d.deviceId,
      true,
      event(d.deviceId, 'blocked', new Date('2026-01-02T00:00:00Z')),
    );
    expect(blocked?.isBlocked).toBe(true);
    const unblocked = await sut().setBlocked(
      d.deviceId,
      false,
      event(d.deviceId, 'unblocked', new Date('2026-01-03T00:00:00Z')),
    );
    expect(unblocked?.isBlocked).toBe(false);
    expect(await sut().setBlocked(newId(), true, event('x', 'blocked'))).toBeUndefined();
    const events = await sut().listEvents(d.deviceId);
    expect(events.map((e) => e.action)).toEqual(['registered', 'blocked', 'unblocked']);
    expect(events[1]).toMatchObject({ actor: 'admin:000000000000', reason: 'why' });
  });

  it("should give the time of a device's latest event of an action, by time, and undefined without one", async () => {
    const d = device();
    const other = device();
    await sut().register(d, event(d.deviceId, 'registered'));
    await sut().register(other, event(other.deviceId, 'registered'));
    expect((await sut().lastEventAt(d.deviceId, 'unblocked')).at).toBeUndefined();
    const at = (day: number) => new Date(Date.UTC(2026, 0, day, 8, 30, 0, 250));
    // another replica's clock behind: the later unblock is recorded first
    for (const [blocked, day] of [
      [true, 2],
      [false, 5],
      [true, 6],
      [false, 4],
      [true, 7],
    ] as const) {
      await sut().setBlocked(
        d.deviceId,
        blocked,
        event(d.deviceId, blocked ? 'blocked' : 'unblocked', at(day)),
      );
    }
    await sut().setBlocked(other.deviceId, true, event(other.deviceId, 'blocked', at(8)));
    await sut().setBlocked(other.deviceId, false, event(other.deviceId, 'unblocked', at(9)));
    expect(await sut().lastEventAt(d.deviceId, 'unblocked')).toEqual({ at: at(5), ignored: [] });
    // one dated after `notAfter` is passed over (and named)
    const before = await sut().lastEventAt(d.deviceId, 'unblocked', at(4));
    expect(before.at).toEqual(at(4));
    expect(before.ignored.map((e) => e.at)).toEqual([at(5)]);
    expect((await sut().lastEventAt(d.deviceId, 'blocked')).at).toEqual(at(7));
    expect((await sut().lastEventAt(d.deviceId, 'registered')).at).toEqual(
      new Date('2026-01-01T00:00:00Z'),
    );
    expect(await sut().lastEventAt(newId(), 'unblocked')).toEqual({ ignored: [] });
  });

  it('should block a device once when blocked only if unblocked (an auto-block decided twice)', async () => {
    const d = device();
    await sut().register(d, event(d.deviceId, 'registered'));
    const twice = await Promise.all([
      sut().blockIfUnblocked(d.deviceId, event(d.deviceId, 'blocked')),
      sut().blockIfUnblocked(d.deviceId, event(d.deviceId, 'blocked')),
    ]);
    expect(twice.sort()).toEqual([false, true]);
    expect((await sut().findByDeviceId(d.deviceId))?.isBlocked).toBe(true);
    expect((await sut().listEvents(d.deviceId)).map((e) => e.action)).toEqual([
      'registered',
      'blocked',
    ]);
    expect(await sut().blockIfUnblocked(newId(), event('x', 'blocked'))).toBeUndefined();
    // unblocked by an admin: the next one blocks it again
    await sut().setBlocked(d.deviceId, false, event(d.deviceId, 'unblocked'));
    expect(await sut().blockIfUnblocked(d.deviceId, event(d.deviceId, 'blocked'))).toBe(true);
  });

  it('should only move lastSeen forward', async () => {
    const d = device();
    await sut().register(d, event(d.deviceId, 'registered'));
    await sut().touchLastSeen(d.deviceId, new Date('2026-01-05T00:00:00Z'));
    await sut().touchLastSeen(d.deviceId, new Date('2026-01-04T00:00:00Z'));
    expect((await sut().findByDeviceId(d.deviceId))?.lastSeen).toEqual(
      new Date('2026-01-05T00:00:00Z'),
    );
  });

  it('should list devices in deviceId order with keyset pagination', async () => {
    const ids = [newId(), newId(), newId()].sort();
    for (const id of [ids[2], ids[0], ids[1]])
      await sut().register(device(id), event(id, 'registered'));
    expect((await sut().list({ limit: 2 })).map((d) => d.deviceId)).toEqual(ids.slice(0, 2));
    expect((await sut().list({ limit: 2, afterDeviceId: ids[1] })).map((d) => d.deviceId)).toEqual([
      ids[2],
    ]);
  });

  it("should list one worker's phones only, in deviceId order with keyset pagination", async () => {
    const workerId = newId();
    const ids = [newId(), newId(), newId()].sort();
    const mine = ids.map((id) => ({
      ...device(id),
      user: { kind: 'worker' as const, id: workerId },
    }));
    for (const d of [mine[2], mine[0], mine[1]])
      await sut().register(d, event(d.deviceId, 'registered'));
    const other = device();
    await sut().register(other, event(other.deviceId, 'registered'));
    // a thekedar's phone whose id happened to equal the worker's is not the worker's
    const thekedars = { ...device(), user: { kind: 'thekedar' as const, id: workerId } };
    await sut().register(thekedars, event(thekedars.deviceId, 'registered'));
    const page = (o: { limit: number; afterDeviceId?: string }) =>
      sut()
        .list({ ...o, workerId })
        .then((list) => list.map((d) => d.deviceId));
    expect(await page({ limit: 2 })).toEqual(ids.slice(0, 2));
    expect(await page({ limit: 2, afterDeviceId: ids[1] })).toEqual([ids[2]]);
    expect(await sut().list({ limit: 10, workerId })).toEqual(mine);
    expect(await sut().list({ limit: 10, workerId: newId() })).toEqual([]);
  });

  it('should record the last address with lastSeen and keep it when none is given', async () => {
    const d = device();
    await sut().register(d, event(d.deviceId, 'registered'));
    await sut().touchLastSeen(d.deviceId, new Date('2026-01-05T00:00:00Z'), '203.0.113.7');
    await sut().touchLastSeen(d.deviceId, new Date('2026-01-06T00:00:00Z'));
    await sut().touchLastSeen(d.deviceId, new Date('2026-01-04T00:00:00Z'), '198.51.100.1');
    expect(await sut().findByDeviceId(d.deviceId)).toMatchObject({
      lastSeen: new Date('2026-01-06T00:00:00Z'),
      lastIp: '203.0.113.7',
    });
  });

  it('should list the devices registered with one SIM hash', async () => {
    const ids = [newId(), newId(), newId()];
    await sut().register(device(ids[0], 'sim-aaaa-1111'), event(ids[0], 'registered'));
    await sut().register(device(ids[1], 'sim-bbbb-2222'), event(ids[1], 'registered'));
    await sut().register(device(ids[2], 'sim-aaaa-1111'), event(ids[2], 'registered'));
    expect(await sut().listDeviceIdsBySimHash('sim-aaaa-1111')).toEqual([ids[0], ids[2]].sort());
    expect(await sut().listDeviceIdsBySimHash('sim-none')).toEqual([]);
  });
  it('should list sealed values not under a key version by key, and swap one only while unchanged', async () => {
    const a = { ...device(), sealedSecret: 'sealed1.v1.a.b.c' };
    const b = { ...device(), sealedSecret: 'sealed1.v2.a.b.c' };
    const c = { ...device(), sealedSecret: 'sealed1.v10.a.b.c' };
    for (const x of [a, b, c]) await sut().register(x, event(x.deviceId, 'registered'));
    const listed = await sut().listSealedNotUnder('v1', '', 10);
    expect(listed.map((v) => v.sealed).sort()).toEqual(['sealed1.v10.a.b.c', 'sealed1.v2.a.b.c']);
    const firstKey = [...listed].sort((x, y) => (x.key < y.key ? -1 : 1))[0].key;
    expect((await sut().listSealedNotUnder('v1', firstKey, 10)).length).toBe(1);
    expect(await sut().replaceSealed(b.deviceId, 'sealed1.v9.stale.x.y', 'sealed1.v1.n.e.w')).toBe(
      false,
    );
    expect(await sut().replaceSealed(b.deviceId, 'sealed1.v2.a.b.c', 'sealed1.v1.n.e.w')).toBe(
      true,
    );
    expect((await sut().listSealedNotUnder('v1', '', 10)).map((v) => v.key)).toEqual([c.deviceId]);
  });

  it('should count sealed values by key version (for GET /api/v5/vault/keys)', async () => {
    expect(await sut().countByVersion()).toEqual({});
    const sealed = [
      'sealed1.v1.a.b.c',
      'sealed1.v2.a.b.c',
      'sealed1.v10.a.b.c',
      'sealed1.v2.d.e.f',
    ];
    for (const sealedSecret of sealed) {
      const x = { ...device(), sealedSecret };
      await sut().register(x, event(x.deviceId, 'registered'));
    }
    expect(await sut().countByVersion()).toEqual({ v1: 1, v2: 2, v10: 1 });
  });

  it('should write nothing when a change cannot record its event', async () => {
    // an event the store refuses (no actor) makes the second half of the write fail
    const broken = (deviceId: string, action: WorkerDeviceEvent['action']) => ({
      ...event(deviceId, action),
      actor: null as unknown as string,
    });
    const lost = device();
    await expect(sut().register(lost, broken(lost.deviceId, 'registered'))).rejects.toBeDefined();
    expect(await sut().findByDeviceId(lost.deviceId)).toBeUndefined();
    expect(await sut().listEvents(lost.deviceId)).toEqual([]);

    const d = device();
    await sut().register(d, event(d.deviceId, 'registered'));
    await expect(
      sut().setBlocked(d.deviceId, true, broken(d.deviceId, 'blocked')),
    ).rejects.toBeDefined();
    expect(await sut().findByDeviceId(d.deviceId)).toEqual(d);
    expect((await sut().listEvents(d.deviceId)).map((e) => e.action)).toEqual(['registered']);
  });
});
