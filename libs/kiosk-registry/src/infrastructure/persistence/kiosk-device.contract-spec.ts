import { createHash } from 'node:crypto';
import { newId } from '@app/common';
import { describeStoreContract } from '@app/persistence/testing/store-contract';
import { KioskDevice, KioskEvent } from '../../domain/kiosk-device';
import { kioskDeviceAdapters } from './kiosk-persistence';

/** A key of its own per device id unless told: one key under two ids is refused. */
function device(
  deviceId: string,
  fingerprint = createHash('sha256').update(deviceId).digest('hex'),
): KioskDevice {
  const now = new Date('2026-01-01T00:00:00.000Z');
  return {
    id: newId(),
    deviceId,
    publicKeyPem: 'PEM',
    keyFingerprint: fingerprint,
    status: 'active',
    createdAt: now,
    updatedAt: now,
  };
}

function event(deviceId: string, action: KioskEvent['action'], at = new Date()): KioskEvent {
  return { id: newId(), deviceId, action, actor: 'admin:000000000000', at };
}

describeStoreContract('KioskDeviceRepository', kioskDeviceAdapters, ({ sut }) => {
  it('should create a device once and report the existing one on a second register', async () => {
    const first = await sut().register(
      device('TEE-1', 'a'.repeat(64)),
      event('TEE-1', 'registered'),
    );
    const second = await sut().register(
      device('TEE-1', 'b'.repeat(64)),
      event('TEE-1', 'registered'),
    );
    expect(first.outcome).toBe('created');
    expect(second.outcome).toBe('exists');
    expect(second.device.keyFingerprint).toBe('a'.repeat(64));
    expect(await sut().listEvents('TEE-1')).toHaveLength(1);
  });

  it('should let exactly one of many concurrent registrations of one id create it', async () => {
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        sut().register(
          device('TEE-RACE', String(i).repeat(64).slice(0, 64)),
          event('TEE-RACE', 'registered'),
        ),
      ),
    );
    expect(results.filter((r) => r.outcome === 'created')).toHaveLength(1);
    const stored = await sut().findByDeviceId('TEE-RACE');
    expect(results.find((r) => r.outcome === 'created')!.device.keyFingerprint).toBe(
      stored!.keyFingerprint,
    );
  });

  it("should refuse a new id with another device's key, in a register and in a rotation", async () => {
    const key = 'e'.repeat(64);
    await sut().register(device('TEE-KEY-A', key), event('TEE-KEY-A', 'registered'));
    const second = await sut().register(device('TEE-KEY-B', key), event('TEE-KEY-B', 'registered'));
    expect(second.outcome).toBe('key_in_use');
    expect(second.device.deviceId).toBe('TEE-KEY-A');
    expect(await sut().findByDeviceId('TEE-KEY-B')).toBeUndefined();
    // the same id with its own key again is still "exists"
    expect(
      (await sut().register(device('TEE-KEY-A', key), event('TEE-KEY-A', 'registered'))).outcome,
    ).toBe('exists');
    await sut().register(device('TEE-KEY-C'), event('TEE-KEY-C', 'registered'));
    expect(
      await sut().rotateKey(
        'TEE-KEY-C',
        { publicKeyPem: 'PEM', keyFingerprint: key },
        event('TEE-KEY-C', 'key_rotated'),
      ),
    ).toEqual({ keyInUseBy: 'TEE-KEY-A' });
    expect((await sut().findByDeviceId('TEE-KEY-C'))?.keyFingerprint).not.toBe(key);
    expect((await sut().listEvents('TEE-KEY-C')).map((e) => e.action)).toEqual(['registered']);
  });

  it('should round-trip every field', async () => {
    const d = device('TEE-RT');
    await sut().register(d, event('TEE-RT', 'registered'));
    expect(await sut().findByDeviceId('TEE-RT')).toEqual(d);
    expect(await sut().findByDeviceId('TEE-NONE')).toBeUndefined();
  });

  it('should rotate the key and block with an event each, and report unknown devices', async () => {
    await sut().register(
      device('TEE-2'),
      event('TEE-2', 'registered', new Date('2026-01-01T00:00:00Z')),
    );
    const rotatedEvent = {
      ...event('TEE-2', 'key_rotated', new Date('2026-01-02T00:00:00Z')),
      reason: 'new board',
      previousKeyFingerprint: 'a'.repeat(64),
      keyFingerprint: 'c'.repeat(64),
    };
    const rotated = await sut().rotateKey(
      'TEE-2',
      { publicKeyPem: 'PEM2', keyFingerprint: 'c'.repeat(64) },
      rotatedEvent,
    );
    expect(rotated).toMatchObject({
      keyFingerprint: 'c'.repeat(64),
      updatedAt: new Date('2026-01-02T00:00:00.000Z'),
    });
    const blocked = await sut().setStatus(
      'TEE-2',
      'blocked',
      event('TEE-2', 'blocked', new Date('2026-01-03T00:00:00Z')),
    );
    expect(blocked?.device.status).toBe('blocked');
    expect(blocked?.changed).toBe(true);
    // blocked again: nothing written (no event, updatedAt kept), and said so
    const again = await sut().setStatus(
      'TEE-2',
      'blocked',
      event('TEE-2', 'blocked', new Date('2026-01-04T00:00:00Z')),
    );
    expect(again).toEqual({ device: blocked!.device, changed: false });
    expect(await sut().setStatus('TEE-X', 'blocked', event('TEE-X', 'blocked'))).toBeUndefined();
    expect(
      await sut().rotateKey(
        'TEE-X',
        { publicKeyPem: 'P', keyFingerprint: 'f' },
        event('TEE-X', 'key_rotated'),
      ),
    ).toBeUndefined();
    const events = await sut().listEvents('TEE-2');
    expect(events.map((e) => e.action)).toEqual(['registered', 'key_rotated', 'blocked']);
    expect(events[1]).toMatchObject({
      reason: 'new board',
      previousKeyFingerprint: 'a'.repeat(64),
      keyFingerprint: 'c'.repeat(64),
    });
    expect(await sut().listEvents('TEE-X')).toEqual([]);
  });

  it('should list devices in deviceId order with keyset pagination', async () => {
    for (const id of ['TEE-c', 'TEE-a', 'TEE-b'])
      await sut().register(device(id), event(id, 'registered'));
    expect((await sut().list({ limit: 2 })).map((d) => d.deviceId)).toEqual(['TEE-a', 'TEE-b']);
    expect((await sut().list({ limit: 2, afterDeviceId: 'TEE-b' })).map((d) => d.deviceId)).toEqual(
      ['TEE-c'],
    );
  });

  it('should list only devices whose deviceId starts with the prefix, literally', async () => {
    for (const id of ['TEE-a1', 'TEE-a2', 'TEE-b1', 'XEE-a1', 'TEE.a9', 'tee-a3'])
      await sut().register(device(id), event(id, 'registered'));
    const ids = async (o: { prefix: string; afterDeviceId?: string }) =>
      (await sut().list({ limit: 10, ...o })).map((d) => d.deviceId);
    expect(await ids({ prefix: 'TEE-a' })).toEqual(['TEE-a1', 'TEE-a2']);
    expect(await ids({ prefix: 'TEE-a', afterDeviceId: 'TEE-a1' })).toEqual(['TEE-a2']);
    expect(await ids({ prefix: 'TEE.' })).toEqual(['TEE.a9']);
    expect(await ids({ prefix: 'TEE_' })).toEqual([]);
    expect(await ids({ prefix: 'TEE%' })).toEqual([]);
  });

  it('should write nothing when a change cannot record its event', async () => {
    // an event the store refuses (no actor) makes the second half of the write fail
    const broken = (deviceId: string, action: KioskEvent['action']) => ({
      ...event(deviceId, action),
      actor: null as unknown as string,
    });
    await expect(
      sut().register(device('TEE-ATOM-NEW'), broken('TEE-ATOM-NEW', 'registered')),
    ).rejects.toBeDefined();
    expect(await sut().findByDeviceId('TEE-ATOM-NEW')).toBeUndefined();
    expect(await sut().listEvents('TEE-ATOM-NEW')).toEqual([]);

    const d = device('TEE-ATOM');
    await sut().register(d, event('TEE-ATOM', 'registered'));
    await expect(
      sut().setStatus('TEE-ATOM', 'blocked', broken('TEE-ATOM', 'blocked')),
    ).rejects.toBeDefined();
    await expect(
      sut().rotateKey(
        'TEE-ATOM',
        { publicKeyPem: 'NEW', keyFingerprint: 'c'.repeat(64) },
        broken('TEE-ATOM', 'key_rotated'),
      ),
    ).rejects.toBeDefined();
    expect(await sut().findByDeviceId('TEE-ATOM')).toEqual(d);
    expect((await sut().listEvents('TEE-ATOM')).map((e) => e.action)).toEqual(['registered']);
  });

  it('should let one of several blocks racing for a kiosk write, and tell the others they wrote nothing', async () => {
    await sut().register(device('TEE-BLOCKRACE'), event('TEE-BLOCKRACE', 'registered'));
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        sut().setStatus(
          'TEE-BLOCKRACE',
          'blocked',
          event('TEE-BLOCKRACE', 'blocked', new Date(Date.UTC(2026, 0, 3, 0, 0, i))),
        ),
      ),
    );
    expect(results.filter((r) => r?.changed)).toHaveLength(1);
    const winner = results.find((r) => r?.changed)!.device;
    for (const r of results) expect(r?.device).toEqual(winner);
    const actions = (await sut().listEvents('TEE-BLOCKRACE')).map((e) => e.action);
    expect(actions.sort()).toEqual(['blocked', 'registered']);
  });

  it('should answer every losing racer with the winner and record one registration', async () => {
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        sut().register(
          device('TEE-RACE2', String(i).repeat(64).slice(0, 64)),
          event('TEE-RACE2', 'registered'),
        ),
      ),
    );
    const winner = results.find((r) => r.outcome === 'created')!.device;
    for (const r of results) expect(r.device).toEqual(winner);
    expect(await sut().listEvents('TEE-RACE2')).toHaveLength(1);
  });
});
