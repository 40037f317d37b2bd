import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { parseStoreMacKey, StoreMac, StoreMacKey } from '@app/tlog';
import { WorkerDeviceEvent, WorkerDeviceIntegrity } from '../../domain/worker-device';
import {
  WorkerDeviceBound,
  WorkerDeviceSeal,
  WorkerDeviceStoredEvent,
  WorkerDeviceStoredState,
  workerDeviceRetagOutcome,
} from './worker-device-seal';

/**
 * `WorkerDeviceSeal.retagPlan`: what `keys:retag` makes of one device (its block state and its
 * events), the one decision both stores write. Each outcome of a row: re-tagged (from the key it
 * was under, legacy kept legacy), current, tampered, suspect (`--except`).
 */
describe('WorkerDeviceSeal.retagPlan', () => {
  const signingKey = generateKeyPairSync('ed25519').privateKey;
  const newKey = (): StoreMacKey =>
    parseStoreMacKey('STORE_MAC_KEY', randomBytes(32).toString('base64'));
  const [a, b, c] = [newKey(), newKey(), newKey()];
  const sealUnder = (current: StoreMacKey, retired: StoreMacKey[] = []) =>
    new WorkerDeviceSeal(
      new StoreMac({ signingKey, storeMacKey: current, storeMacRetiredKeys: retired }),
    );
  const underA = sealUnder(a);
  const underB = sealUnder(b, [a]);
  /** The current key C, A and B retired (held). */
  const rotated = sealUnder(c, [a, b]);
  /** C alone: what the rows read once A and B are dropped. */
  const onlyC = sealUnder(c);

  const deviceId = 'device-1';
  const device: WorkerDeviceBound = {
    deviceId,
    user: { kind: 'worker', id: 'worker-1' },
    siteIds: ['site-1'],
    fingerprint: { os: 'Android 14', model: 'Redmi', simHash: 'abcdef0123456789' },
    trustScore: 50,
    createdAt: new Date('2026-01-01T00:00:00.000Z'),
  };
  const event = (id: string, action: WorkerDeviceEvent['action']): WorkerDeviceEvent => ({
    id,
    deviceId,
    action,
    actor: 'admin:000000000000',
    reason: 'why',
    at: new Date('2026-01-01T00:00:00.000Z'),
  });
  const registered = event('ev-registered', 'registered');
  const blocked = event('ev-blocked', 'blocked');

  /** A stored block state (blocked by `blocked`) tagged by `seal`, read by `reader`. */
  function state(
    seal: WorkerDeviceSeal,
    reader = rotated,
    legacy = false,
  ): WorkerDeviceStoredState {
    const tag = seal.stateTag(device, true, blocked.id, legacy);
    const integrity = reader.stateIntegrity(device, true, blocked.id, tag);
    return { device, blocked: true, eventId: blocked.id, tag, integrity };
  }
  /** A stored event tagged by `seal`, as `reader` reads it. */
  function stored(
    e: WorkerDeviceEvent,
    seal: WorkerDeviceSeal,
    reader = rotated,
    legacy = false,
  ): WorkerDeviceStoredEvent {
    const tag = seal.eventTag(e, legacy);
    return { event: { ...e, integrity: reader.eventIntegrity(e, tag) }, tag };
  }
  const integrityOf = (s: WorkerDeviceStoredState, tag: string | undefined) =>
    onlyC.stateIntegrity(s.device, s.blocked, s.eventId, tag);

  it('should re-tag under the current key a state and events under retired keys, naming each key they were under', () => {
    const s = state(underA);
    const events = [stored(registered, underA), stored(blocked, underB)];
    const plan = rotated.retagPlan(s, events);
    expect(plan.from.sort()).toEqual([a.kid, b.kid].sort());
    expect(plan).toMatchObject({ tampered: 0, suspect: [] });
    expect(integrityOf(s, plan.stateTag)).toBe<WorkerDeviceIntegrity>('verified');
    expect(plan.eventTags).toHaveLength(2);
    expect(plan.eventTags.map((tag, i) => onlyC.eventIntegrity(events[i].event, tag))).toEqual([
      'verified',
      'verified',
    ]);
    expect(workerDeviceRetagOutcome(deviceId, plan)).toEqual({
      deviceId,
      result: 'retagged',
      from: plan.from,
      tampered: 0,
      suspect: [],
    });
  });

  it('should keep a legacy row legacy when it re-tags it', () => {
    const s = state(underA, rotated, true);
    expect(s.integrity).toBe('legacy');
    const e = stored(registered, underA, rotated, true);
    const plan = rotated.retagPlan(s, [e]);
    expect(plan.from).toEqual([a.kid]);
    expect(integrityOf(s, plan.stateTag)).toBe('legacy');
    expect(onlyC.eventIntegrity(e.event, plan.eventTags[0])).toBe('legacy');
  });

  it('should leave rows already under the current key as they are (current)', () => {
    const plan = rotated.retagPlan(state(rotated), [stored(registered, rotated)]);
    expect(plan).toEqual({ eventTags: [undefined], from: [], tampered: 0, suspect: [] });
    expect(workerDeviceRetagOutcome(deviceId, plan).result).toBe('current');
  });

  it('should never re-tag a row no held key vouches for (tampered), and re-tag the genuine ones', () => {
    // a state the read found tampered (an older one put back), and one under a key not held
    const putBack = { ...state(underA), integrity: 'tampered' as const };
    const unheld = sealUnder(newKey());
    const forged = stored(blocked, unheld);
    expect(forged.event.integrity).toBe('tampered');
    const plan = rotated.retagPlan(putBack, [stored(registered, underA), forged]);
    expect(plan.stateTag).toBeUndefined();
    expect(plan.eventTags[1]).toBeUndefined();
    expect(plan.eventTags[0]).toEqual(expect.any(String));
    expect(plan).toMatchObject({ from: [a.kid], tampered: 2, suspect: [] });
    // an event a read did not check is tampered too, whatever its tag
    const unchecked = { event: registered, tag: underA.eventTag(registered) };
    expect(rotated.retagPlan(state(rotated), [unchecked])).toMatchObject({
      eventTags: [undefined],
      tampered: 1,
    });
  });

  it('should name the rows that verify only under an excepted key (suspect) and re-tag the others', () => {
    const plan = rotated.retagPlan(
      state(underA),
      [stored(registered, underA), stored(blocked, underB)],
      [a.kid],
    );
    expect(plan.stateTag).toBeUndefined();
    expect(plan.eventTags[0]).toBeUndefined();
    expect(plan.eventTags[1]).toEqual(expect.any(String));
    expect(plan.from).toEqual([b.kid]);
    expect(plan.tampered).toBe(0);
    expect(plan.suspect).toEqual([
      { row: 'state', kid: a.kid },
      { row: 'event', eventId: registered.id, action: 'registered', kid: a.kid },
    ]);
    // all of a device's rows suspect: nothing to write, the device current, its rows named
    const all = rotated.retagPlan(state(underA), [stored(registered, underA)], [a.kid]);
    expect(all.from).toEqual([]);
    expect(workerDeviceRetagOutcome(deviceId, all)).toEqual({
      deviceId,
      result: 'current',
      from: [],
      tampered: 0,
      suspect: all.suspect,
    });
  });

  it('should make a device that kept changing `changed` (its keys kept), and a device gone `current`', () => {
    const plan = rotated.retagPlan(state(underA), []);
    expect(workerDeviceRetagOutcome(deviceId, plan, true)).toEqual({
      deviceId,
      result: 'changed',
      from: [a.kid],
      tampered: 0,
      suspect: [],
    });
    expect(workerDeviceRetagOutcome(deviceId, undefined)).toEqual({
      deviceId,
      result: 'current',
      from: [],
      tampered: 0,
      suspect: [],
    });
  });
});

/**
 * The state tag's form `v2`: it covers every field of the device a decision reads (owner, sites,
 * fingerprint, score at registration, creation time), and a tag of the form before (`v1`: the
 * block state alone) still verifies as what it is until the device's next change.
 */
describe('WorkerDeviceSeal state tags', () => {
  const signingKey = generateKeyPairSync('ed25519').privateKey;
  const newKey = (): StoreMacKey =>
    parseStoreMacKey('STORE_MAC_KEY', randomBytes(32).toString('base64'));
  const first = newKey();
  const mac = new StoreMac({ signingKey, storeMacKey: first });
  const seal = new WorkerDeviceSeal(mac);
  const device: WorkerDeviceBound = {
    deviceId: 'device-1',
    user: { kind: 'worker', id: 'worker-a' },
    siteIds: ['site-a'],
    fingerprint: { os: 'Android 14', model: 'Redmi', simHash: 'abcdef0123456789' },
    trustScore: 50,
    createdAt: new Date('2026-01-01T00:00:00.000Z'),
  };
  const tag = seal.stateTag(device, false, 'ev-1');

  it.each<[string, Partial<WorkerDeviceBound>]>([
    ['the owner moved to another worker', { user: { kind: 'worker', id: 'worker-b' } }],
    ['the owner made a thekedar', { user: { kind: 'thekedar', id: 'worker-a' } }],
    ['its sites changed', { siteIds: ['site-b'] }],
    ['its SIM hash changed', { fingerprint: { ...device.fingerprint, simHash: 'ffff' } }],
    ['its os changed', { fingerprint: { ...device.fingerprint, os: 'iOS' } }],
    ['its score at registration raised', { trustScore: 100 }],
    ['its creation backdated', { createdAt: new Date('2020-01-01T00:00:00.000Z') }],
  ])('should read a state tampered when %s', (_name, change) => {
    expect(seal.stateIntegrity(device, false, 'ev-1', tag)).toBe('verified');
    expect(seal.stateIntegrity({ ...device, ...change }, false, 'ev-1', tag)).toBe('tampered');
  });

  it('should read a tag of the form before (v1, legacy v1) as what it is, and keep its form when it re-tags it', () => {
    const v1 = mac.mac('worker-device-state', JSON.stringify([device.deviceId, false, 'ev-1']));
    const legacyV1 = mac.mac(
      'worker-device-state',
      JSON.stringify(['legacy', device.deviceId, false, null]),
    );
    expect(seal.stateIntegrity(device, false, 'ev-1', v1)).toBe('verified');
    expect(seal.stateIntegrity(device, false, null, legacyV1)).toBe('legacy');
    expect(seal.stateIntegrity(device, true, 'ev-1', v1)).toBe('tampered');
    // re-tagged under a new key in its own form (keys:retag launders no owner it never covered)
    const next = new StoreMac({ signingKey, storeMacKey: newKey(), storeMacRetiredKeys: [first] });
    const rotated = new WorkerDeviceSeal(next);
    const plan = rotated.retagPlan(
      { device, blocked: false, eventId: 'ev-1', tag: v1, integrity: 'verified' },
      [],
    );
    expect(plan.stateTag).toEqual(
      next.mac('worker-device-state', JSON.stringify([device.deviceId, false, 'ev-1'])),
    );
  });
});

/**
 * `WorkerDeviceSeal.checked` of a legacy state that names no event (tagged at the upgrade to the
 * tags): it holds as stored only while the device's newest event is legacy too (review 3 of
 * 2026-12-06: put back by a database writer over a later block, it read `legacy`, unblocked).
 */
describe('WorkerDeviceSeal.checked, a legacy state that names no event', () => {
  const seal = new WorkerDeviceSeal(
    new StoreMac({ signingKey: generateKeyPairSync('ed25519').privateKey }),
  );
  const device = {
    id: 'id-1',
    deviceId: 'device-1',
    user: { kind: 'worker' as const, id: 'worker-1' },
    siteIds: ['site-1'],
    fingerprint: { os: 'Android 14', model: 'Redmi', simHash: 'abcdef0123456789' },
    sealedSecret: 'sealed',
    trustScore: 50,
    isBlocked: false,
    createdAt: new Date('2026-01-01T00:00:00.000Z'),
  };
  const tag = seal.stateTag(device, false, null, true);
  const newest = (integrity?: WorkerDeviceIntegrity): WorkerDeviceEvent => ({
    id: 'ev-1',
    deviceId: 'device-1',
    action: 'blocked',
    actor: 'admin:000000000000',
    at: new Date('2026-02-01T00:00:00.000Z'),
    integrity,
  });
  const read = (event?: WorkerDeviceEvent) => seal.checked({ ...device }, null, tag, event);

  it('should hold as stored with no event, or with a legacy newest event', () => {
    expect(read()).toMatchObject({ isBlocked: false, blockIntegrity: 'legacy' });
    expect(read(newest('legacy'))).toMatchObject({ isBlocked: false, blockIntegrity: 'legacy' });
  });

  it('should read tampered (blocked) once the newest event is the server’s, or one no key vouches for', () => {
    expect(read(newest('verified'))).toMatchObject({ isBlocked: true, blockIntegrity: 'tampered' });
    expect(read(newest('tampered'))).toMatchObject({ isBlocked: true, blockIntegrity: 'tampered' });
  });
});
