import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { newId } from '@app/common';
import { fraudConfig } from '@app/fraud';
import { MongoStore, SqliteStore } from '@app/persistence';
import { compileAdapter, CompiledAdapter } from '@app/persistence/testing/compile-adapter';
import { describeStoreContract } from '@app/persistence/testing/store-contract';
import { parseStoreMacKey, StoreMac, StoreMacKey, tlogConfig } from '@app/tlog';
import { WorkerDevice, WorkerDeviceEvent } from '../../domain/worker-device';
import { WorkerDeviceRepository } from './worker-device.repository';
import { workerDeviceAdapters } from './worker-persistence';
import { WorkerDeviceRetagOutcome, WorkerDeviceSeal } from './worker-device-seal';

/**
 * The worker-device store with its tags (WorkerDeviceSeal), on both stores: a block state or an
 * event changed outside the server reads as `tampered` (a state then reads as blocked), rows
 * from before the tags as `legacy` once the first server with the tags has tagged them. The
 * plain suite (worker-device.contract-spec.ts) builds the adapter without the seal.
 */
const signingKey = generateKeyPairSync('ed25519').privateKey;

function device(deviceId = newId()): WorkerDevice {
  return {
    id: newId(),
    deviceId,
    user: { kind: 'worker', id: newId() },
    siteIds: [newId()],
    fingerprint: { os: 'Android 14', model: 'Redmi', simHash: 'abcdef0123456789' },
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

describeStoreContract(
  'WorkerDeviceRepository tags',
  workerDeviceAdapters,
  ({ sut, store, driver }) => {
    const opened: CompiledAdapter<WorkerDeviceRepository>[] = [];
    afterEach(async () => {
      for (const a of opened.splice(0)) await a.close();
    });

    /** An adapter on the suite's store with the server's tags (built, and so upgraded, now). */
    async function withTags(
      legacyTagging = true,
      keys?: { current: StoreMacKey; retired?: StoreMacKey[] },
      legacyTaggingExplicit = false,
    ): Promise<WorkerDeviceRepository> {
      // under the key derived from the signing key, or `keys` (the current one, retired ones)
      const tlog = keys
        ? { signingKey, storeMacKey: keys.current, storeMacRetiredKeys: keys.retired ?? [] }
        : { signingKey };
      const compiled = await compileAdapter(store(), workerDeviceAdapters, {
        providers: [
          { provide: tlogConfig.KEY, useValue: tlog },
          { provide: fraudConfig.KEY, useValue: { legacyTagging, legacyTaggingExplicit } },
          StoreMac,
          WorkerDeviceSeal,
        ],
      });
      opened.push(compiled);
      return compiled.adapter;
    }

    const sqlite = () => (store() as SqliteStore).db;
    const devices = () => (store() as MongoStore).connection.collection<any>('worker_devices');

    async function setStoredBlocked(deviceId: string, blocked: boolean): Promise<void> {
      if (driver() === 'sqlite') {
        sqlite()
          .prepare('UPDATE worker_devices SET is_blocked = ? WHERE device_id = ?')
          .run(blocked ? 1 : 0, deviceId);
      } else {
        await devices().updateOne({ deviceId }, { $set: { isBlocked: blocked } });
      }
    }

    async function insertEvent(e: WorkerDeviceEvent): Promise<void> {
      if (driver() === 'sqlite') {
        sqlite()
          .prepare(
            `INSERT INTO worker_device_events (id, device_id, action, actor, reason, at)
           VALUES (?, ?, ?, ?, ?, ?)`,
          )
          .run(e.id, e.deviceId, e.action, e.actor, e.reason ?? null, e.at.toISOString());
      } else {
        const { id, deviceId, ...rest } = e;
        await devices().updateOne(
          { deviceId },
          { $push: { events: { _id: id, ...rest } as never } },
        );
      }
    }

    it('should read what this server wrote as verified, and a block state set in the store as tampered and blocked until an admin re-tags it', async () => {
      const repo = await withTags();
      const d = device();
      await repo.register(d, event(d.deviceId, 'registered'));
      expect(await repo.findByDeviceId(d.deviceId)).toMatchObject({
        isBlocked: false,
        blockIntegrity: 'verified',
      });
      await repo.setBlocked(d.deviceId, true, event(d.deviceId, 'blocked'));
      await setStoredBlocked(d.deviceId, false);
      expect(await repo.findByDeviceId(d.deviceId)).toMatchObject({
        isBlocked: true,
        blockIntegrity: 'tampered',
      });
      const [listed] = (await repo.list({ limit: 10 })).filter((x) => x.deviceId === d.deviceId);
      expect(listed).toMatchObject({ isBlocked: true, blockIntegrity: 'tampered' });
      // an automatic block of a state that reads blocked records nothing more; an admin's
      // unblock re-tags it
      const unblocked = await repo.setBlocked(d.deviceId, false, event(d.deviceId, 'unblocked'));
      expect(unblocked).toMatchObject({ isBlocked: false, blockIntegrity: 'verified' });
      expect(await repo.blockIfUnblocked(d.deviceId, event(d.deviceId, 'blocked'))).toBe(true);
      expect(await repo.findByDeviceId(d.deviceId)).toMatchObject({
        isBlocked: true,
        blockIntegrity: 'verified',
      });
      expect((await repo.listEvents(d.deviceId)).map((e) => e.integrity)).toEqual([
        'verified',
        'verified',
        'verified',
        'verified',
      ]);
    });

    it.each<[string, Record<string, unknown>, Record<string, unknown>]>([
      ['its owner moved', { user_id: 'other-worker' }, { 'user.id': 'other-worker' }],
      ['its owner made a thekedar', { user_kind: 'thekedar' }, { 'user.kind': 'thekedar' }],
      ['its sites', { site_ids: '["other-site"]' }, { siteIds: ['other-site'] }],
      [
        'its SIM hash',
        { fingerprint: '{"os":"Android 14","model":"Redmi","simHash":"ffff"}' },
        { 'fingerprint.simHash': 'ffff' },
      ],
      ['its score at registration', { trust_score: 100 }, { trustScore: 100 }],
      [
        'its creation time',
        { created_at: '2020-01-01T00:00:00.000Z' },
        { createdAt: new Date('2020-01-01T00:00:00.000Z') },
      ],
    ])(
      'should read a device as tampered (blocked) when %s is changed in the store, and tag it anew as stored at an admin unblock',
      async (_name, row, doc) => {
        const repo = await withTags();
        const d = device();
        await repo.register(d, event(d.deviceId, 'registered'));
        if (driver() === 'sqlite') {
          const set = Object.keys(row)
            .map((k) => `${k} = @${k}`)
            .join(', ');
          sqlite()
            .prepare(`UPDATE worker_devices SET ${set} WHERE device_id = @device_id`)
            .run({ ...row, device_id: d.deviceId });
        } else {
          await devices().updateOne({ deviceId: d.deviceId }, { $set: doc });
        }
        expect(await repo.findByDeviceId(d.deviceId)).toMatchObject({
          isBlocked: true,
          blockIntegrity: 'tampered',
        });
        // an automatic block of it records nothing (it reads blocked); an admin's unblock
        // vouches for the device as stored
        expect(
          await repo.setBlocked(d.deviceId, false, event(d.deviceId, 'unblocked')),
        ).toMatchObject({ isBlocked: false, blockIntegrity: 'verified' });
      },
    );

    it("should read as tampered (blocked) an earlier tagged state put back over a later one: the state must be the one the device's newest event set", async () => {
      const repo = await withTags();
      const d = device();
      await repo.register(d, event(d.deviceId, 'registered'));
      // the unblocked state as registered, saved by a database writer
      const saved = async (): Promise<Record<string, unknown>> =>
        driver() === 'sqlite'
          ? (sqlite()
              .prepare(
                'SELECT is_blocked, block_event_id, block_tag FROM worker_devices WHERE device_id = ?',
              )
              .get(d.deviceId) as Record<string, unknown>)
          : ((await devices().findOne(
              { deviceId: d.deviceId },
              { projection: { _id: 0, isBlocked: 1, blockEventId: 1, blockTag: 1 } },
            )) as Record<string, unknown>);
      const unblockedState = await saved();
      const putBack = async (state: Record<string, unknown>) => {
        if (driver() === 'sqlite') {
          sqlite()
            .prepare(
              'UPDATE worker_devices SET is_blocked = @is_blocked, block_event_id = @block_event_id, block_tag = @block_tag WHERE device_id = @device_id',
            )
            .run({ ...state, device_id: d.deviceId });
        } else {
          await devices().updateOne({ deviceId: d.deviceId }, { $set: state });
        }
      };
      await repo.setBlocked(d.deviceId, true, event(d.deviceId, 'blocked'));
      const blockedState = await saved();
      await putBack(unblockedState);
      expect(await repo.findByDeviceId(d.deviceId)).toMatchObject({
        isBlocked: true,
        blockIntegrity: 'tampered',
      });
      const [listed] = (await repo.list({ limit: 10 })).filter((x) => x.deviceId === d.deviceId);
      expect(listed).toMatchObject({ isBlocked: true, blockIntegrity: 'tampered' });
      // an admin's unblock, then the blocked state put back: a stale block reads blocked too
      // (fail closed), and the state of the newest event verifies
      await repo.setBlocked(d.deviceId, false, event(d.deviceId, 'unblocked'));
      const current = await saved();
      await putBack(blockedState);
      expect(await repo.findByDeviceId(d.deviceId)).toMatchObject({
        isBlocked: true,
        blockIntegrity: 'tampered',
      });
      await putBack(current);
      expect(await repo.findByDeviceId(d.deviceId)).toMatchObject({
        isBlocked: false,
        blockIntegrity: 'verified',
      });
    });

    it('should pass over an inserted unblock (tampered) and one dated after notAfter for the latest unblock', async () => {
      const repo = await withTags();
      const d = device();
      await repo.register(d, event(d.deviceId, 'registered'));
      const at = (day: number) => new Date(Date.UTC(2026, 0, day));
      await repo.setBlocked(d.deviceId, true, event(d.deviceId, 'blocked', at(2)));
      await repo.setBlocked(d.deviceId, false, event(d.deviceId, 'unblocked', at(3)));
      const inserted = event(d.deviceId, 'unblocked', at(4));
      await insertEvent(inserted);
      await repo.setBlocked(d.deviceId, false, event(d.deviceId, 'unblocked', at(9)));
      const last = await repo.lastEventAt(d.deviceId, 'unblocked', at(5));
      expect(last.at).toEqual(at(3));
      expect(last.ignored.map((e) => [e.at, e.integrity])).toEqual([
        [at(9), 'verified'],
        [at(4), 'tampered'],
      ]);
      const listed = await repo.listEvents(d.deviceId);
      expect(listed.find((e) => e.id === inserted.id)?.integrity).toBe('tampered');
    });

    it('should tag rows from before the tags once, as legacy (the state holding as stored until its next change); later changes are tampered', async () => {
      // written by a server without the tags (as before the upgrade)
      const blocked = device();
      const open = device();
      await sut().register(blocked, event(blocked.deviceId, 'registered'));
      await sut().setBlocked(blocked.deviceId, true, event(blocked.deviceId, 'blocked'));
      await sut().register(open, event(open.deviceId, 'registered'));
      if (driver() === 'mongo') {
        await (store() as MongoStore).connection.collection('worker_device_seal').deleteMany({});
      }
      const repo = await withTags();
      expect(await repo.findByDeviceId(blocked.deviceId)).toMatchObject({
        isBlocked: true,
        blockIntegrity: 'legacy',
      });
      expect(await repo.findByDeviceId(open.deviceId)).toMatchObject({
        isBlocked: false,
        blockIntegrity: 'legacy',
      });
      expect((await repo.listEvents(blocked.deviceId)).map((e) => e.integrity)).toEqual([
        'legacy',
        'legacy',
      ]);
      // a legacy state changed in the store after the upgrade
      await setStoredBlocked(blocked.deviceId, false);
      const restarted = await withTags();
      expect(await restarted.findByDeviceId(blocked.deviceId)).toMatchObject({
        isBlocked: true,
        blockIntegrity: 'tampered',
      });
      // the next change tags it as the server's
      await restarted.setBlocked(open.deviceId, true, event(open.deviceId, 'blocked'));
      expect(await restarted.findByDeviceId(open.deviceId)).toMatchObject({
        isBlocked: true,
        blockIntegrity: 'verified',
      });
    });

    it('should read as tampered (blocked) a legacy state that names no event put back over a later change: the device has a server-tagged event since', async () => {
      // written by a server without the tags (as before the upgrade), tagged as legacy
      const [d, open] = [device(), device()];
      for (const x of [d, open]) await sut().register(x, event(x.deviceId, 'registered'));
      // rows from before the tags name no event (block_event_id came with them)
      if (driver() === 'sqlite') {
        sqlite().prepare('UPDATE worker_devices SET block_event_id = NULL').run();
      } else {
        await devices().updateMany({}, { $unset: { blockEventId: '' } });
        await (store() as MongoStore).connection.collection('worker_device_seal').deleteMany({});
      }
      const repo = await withTags();
      for (const x of [d, open]) {
        expect(await repo.findByDeviceId(x.deviceId)).toMatchObject({
          isBlocked: false,
          blockIntegrity: 'legacy',
        });
      }
      const legacyState = await storedState(d.deviceId);
      expect(legacyState.eventId ?? null).toBeNull();
      // an admin blocks it; a database writer puts the legacy (unblocked) state back
      await repo.setBlocked(d.deviceId, true, event(d.deviceId, 'blocked'));
      const blockedState = await storedState(d.deviceId);
      await putStoredState(d.deviceId, legacyState);
      expect(await repo.findByDeviceId(d.deviceId)).toMatchObject({
        isBlocked: true,
        blockIntegrity: 'tampered',
      });
      const [listed] = (await repo.list({ limit: 10 })).filter((x) => x.deviceId === d.deviceId);
      expect(listed).toMatchObject({ isBlocked: true, blockIntegrity: 'tampered' });
      // so is one with an event inserted after it (it could hide a server's event behind it)
      await insertEvent(event(open.deviceId, 'unblocked'));
      expect(await repo.findByDeviceId(open.deviceId)).toMatchObject({
        isBlocked: true,
        blockIntegrity: 'tampered',
      });
      // the state the server wrote still verifies
      await putStoredState(d.deviceId, blockedState);
      expect(await repo.findByDeviceId(d.deviceId)).toMatchObject({
        isBlocked: true,
        blockIntegrity: 'verified',
      });
    });

    it('should refuse the legacy tagging with FRAUD_LEGACY_TAGGING off or with tagged rows and the marker cleared: untagged devices read as tampered (blocked)', async () => {
      const old = device();
      await sut().register(old, event(old.deviceId, 'registered'));
      if (driver() === 'mongo') {
        await (store() as MongoStore).connection.collection('worker_device_seal').deleteMany({});
      }
      const refusing = await withTags(false);
      expect(await refusing.findByDeviceId(old.deviceId)).toMatchObject({
        isBlocked: true,
        blockIntegrity: 'tampered',
      });
      // tagged rows, then the marker cleared and an untagged device written: refused
      const repo = await withTags();
      expect((await repo.findByDeviceId(old.deviceId))?.blockIntegrity).toBe('legacy');
      const forged = device();
      await sut().register(forged, event(forged.deviceId, 'registered'));
      if (driver() === 'sqlite') {
        sqlite().prepare('UPDATE worker_device_seal SET legacy_sealed_at = NULL').run();
      } else {
        await (store() as MongoStore).connection.collection('worker_device_seal').deleteMany({});
      }
      const restarted = await withTags();
      expect(await restarted.findByDeviceId(forged.deviceId)).toMatchObject({
        isBlocked: true,
        blockIntegrity: 'tampered',
      });
      expect((await restarted.findByDeviceId(old.deviceId))?.blockIntegrity).toBe('legacy');
    });

    it("should count an event's tag as a tagged row (the same rule on both stores): block states' tags stripped and the marker cleared still refuse the legacy tagging", async () => {
      const repo = await withTags();
      const d = device();
      await repo.register(d, event(d.deviceId, 'registered'));
      await repo.setBlocked(d.deviceId, true, event(d.deviceId, 'blocked'));
      // a database writer strips the state's tag, unblocks the phone and clears the marker,
      // hoping the next start takes the store for one from before the tags
      if (driver() === 'sqlite') {
        sqlite().prepare('UPDATE worker_devices SET block_tag = NULL, is_blocked = 0').run();
        sqlite().prepare('UPDATE worker_device_seal SET legacy_sealed_at = NULL').run();
      } else {
        await devices().updateMany({}, { $unset: { blockTag: '' }, $set: { isBlocked: false } });
        await (store() as MongoStore).connection.collection('worker_device_seal').deleteMany({});
      }
      const restarted = await withTags();
      expect(await restarted.findByDeviceId(d.deviceId)).toMatchObject({
        isBlocked: true,
        blockIntegrity: 'tampered',
      });
    });

    it('should tag the untagged devices as legacy with FRAUD_LEGACY_TAGGING=1 set explicitly, though devices were tagged since an upgrade started without it', async () => {
      const old = device();
      await sut().register(old, event(old.deviceId, 'registered'));
      if (driver() === 'mongo') {
        await (store() as MongoStore).connection.collection('worker_device_seal').deleteMany({});
      }
      // a production upgrade started without the switch, then a phone enrolled
      const refusing = await withTags(false);
      const enrolled = device();
      await refusing.register(enrolled, event(enrolled.deviceId, 'registered'));
      // the default (on outside production) is not the operator's word: still refused
      const defaulted = await withTags(true);
      expect((await defaulted.findByDeviceId(old.deviceId))?.blockIntegrity).toBe('tampered');
      const restarted = await withTags(true, undefined, true);
      expect(await restarted.findByDeviceId(old.deviceId)).toMatchObject({
        isBlocked: false,
        blockIntegrity: 'legacy',
      });
      expect(await restarted.findByDeviceId(enrolled.deviceId)).toMatchObject({
        isBlocked: false,
        blockIntegrity: 'verified',
      });
      expect((await restarted.listEvents(enrolled.deviceId)).map((e) => e.integrity)).toEqual([
        'verified',
      ]);
    });

    it('should re-tag under the current key the states and events under a retired one (keys:retag), never a tampered row', async () => {
      const newKey = (): StoreMacKey =>
        parseStoreMacKey('STORE_MAC_KEY', randomBytes(32).toString('base64'));
      const [a, b] = [newKey(), newKey()];
      const before = await withTags(true, { current: a });
      const [kept, forged] = [device(), device()];
      for (const d of [kept, forged]) {
        await before.register(d, event(d.deviceId, 'registered'));
        await before.setBlocked(d.deviceId, true, event(d.deviceId, 'blocked'));
      }
      await setStoredBlocked(forged.deviceId, false);
      const rotated = await withTags(true, { current: b, retired: [a] });
      const outcomes: WorkerDeviceRetagOutcome[] = [];
      for (let after = ''; ;) {
        const page = await rotated.retagPage(after, 1);
        outcomes.push(...page);
        if (page.length < 1) break;
        after = page[page.length - 1].deviceId;
      }
      const of = (d: WorkerDevice) => outcomes.find((o) => o.deviceId === d.deviceId);
      expect(of(kept)).toEqual({
        deviceId: kept.deviceId,
        result: 'retagged',
        from: [a.kid],
        tampered: 0,
        suspect: [],
      });
      // the forged state is left (tampered), its genuine events re-tagged
      expect(of(forged)).toEqual({
        deviceId: forged.deviceId,
        result: 'retagged',
        from: [a.kid],
        tampered: 1,
        suspect: [],
      });
      expect((await rotated.retagPage('', 10)).every((o) => o.result === 'current')).toBe(true);
      // without the retired key: the re-tagged rows verify, the tampered state still does not
      const after = await withTags(true, { current: b });
      expect(await after.findByDeviceId(kept.deviceId)).toMatchObject({
        isBlocked: true,
        blockIntegrity: 'verified',
      });
      expect((await after.listEvents(kept.deviceId)).map((e) => e.integrity)).toEqual([
        'verified',
        'verified',
      ]);
      expect((await after.findByDeviceId(forged.deviceId))?.blockIntegrity).toBe('tampered');
    });

    it('should not re-tag a state or an event that verifies only under an excepted key (keys:retag --except): suspect, left to read tampered once that key is dropped', async () => {
      const newKey = (): StoreMacKey =>
        parseStoreMacKey('STORE_MAC_KEY', randomBytes(32).toString('base64'));
      // A leaked; B a retired key still trusted; C the current one
      const [a, b, c] = [newKey(), newKey(), newKey()];
      const underA = await withTags(true, { current: a });
      const [leaked, mixed] = [device(), device()];
      const [registered, blocked] = [
        event(leaked.deviceId, 'registered'),
        event(leaked.deviceId, 'blocked'),
      ];
      await underA.register(leaked, registered);
      await underA.setBlocked(leaked.deviceId, true, blocked);
      const mixedRegistered = event(mixed.deviceId, 'registered');
      await underA.register(mixed, mixedRegistered);
      await underA.setBlocked(mixed.deviceId, true, event(mixed.deviceId, 'blocked'));
      // under B: the mixed device unblocked (its state and that event tagged under B)
      const underB = await withTags(true, { current: b, retired: [a] });
      const unblocked = event(mixed.deviceId, 'unblocked', new Date('2026-01-02T00:00:00Z'));
      await underB.setBlocked(mixed.deviceId, false, unblocked);

      const rotated = await withTags(true, { current: c, retired: [a, b] });
      const outcomes = await rotated.retagPage('', 10, [a.kid]);
      const of = (d: WorkerDevice) => outcomes.find((o) => o.deviceId === d.deviceId);
      expect(of(leaked)).toEqual({
        deviceId: leaked.deviceId,
        result: 'current',
        from: [],
        tampered: 0,
        suspect: expect.arrayContaining([
          { row: 'state', kid: a.kid },
          { row: 'event', eventId: registered.id, action: 'registered', kid: a.kid },
          { row: 'event', eventId: blocked.id, action: 'blocked', kid: a.kid },
        ]),
      });
      expect(of(leaked)!.suspect).toHaveLength(3);
      // B's rows re-tagged; A's left as they are
      expect(of(mixed)!.result).toBe('retagged');
      expect(of(mixed)!.from).toEqual([b.kid]);
      expect(of(mixed)!.suspect).toHaveLength(2);
      expect(of(mixed)!.suspect).toContainEqual({
        row: 'event',
        eventId: mixedRegistered.id,
        action: 'registered',
        kid: a.kid,
      });
      // a second run: nothing more to re-tag, the same rows still suspect
      const again = await rotated.retagPage('', 10, [a.kid]);
      expect(again.map((o) => [o.result, o.suspect.length]).sort()).toEqual([
        ['current', 2],
        ['current', 3],
      ]);

      // A dropped (it leaked): what only A vouched for reads tampered (the state blocked)
      const after = await withTags(true, { current: c, retired: [b] });
      expect(await after.findByDeviceId(leaked.deviceId)).toMatchObject({
        isBlocked: true,
        blockIntegrity: 'tampered',
      });
      expect((await after.listEvents(leaked.deviceId)).map((e) => e.integrity)).toEqual([
        'tampered',
        'tampered',
      ]);
      expect(await after.findByDeviceId(mixed.deviceId)).toMatchObject({
        isBlocked: false,
        blockIntegrity: 'verified',
      });
      expect((await after.listEvents(mixed.deviceId)).map((e) => e.integrity)).toEqual([
        'tampered',
        'tampered',
        'verified',
      ]);
      // without B either: the re-tagged rows verify under C alone
      const onlyC = await withTags(true, { current: c });
      expect((await onlyC.findByDeviceId(mixed.deviceId))?.blockIntegrity).toBe('verified');
    });

    /** A device's stored block state (tag, event id, block flag), as a database writer sees it. */
    async function storedState(
      deviceId: string,
    ): Promise<{ tag: unknown; eventId: unknown; blocked: boolean }> {
      if (driver() === 'sqlite') {
        const row = sqlite()
          .prepare(
            'SELECT block_tag, block_event_id, is_blocked FROM worker_devices WHERE device_id = ?',
          )
          .get(deviceId) as { block_tag: unknown; block_event_id: unknown; is_blocked: number };
        return { tag: row.block_tag, eventId: row.block_event_id, blocked: row.is_blocked === 1 };
      }
      const doc = await devices().findOne({ deviceId });
      return { tag: doc.blockTag, eventId: doc.blockEventId, blocked: doc.isBlocked };
    }

    async function putStoredState(
      deviceId: string,
      state: { tag: unknown; eventId: unknown; blocked: boolean },
    ): Promise<void> {
      if (driver() === 'sqlite') {
        sqlite()
          .prepare(
            'UPDATE worker_devices SET block_tag = ?, block_event_id = ?, is_blocked = ? WHERE device_id = ?',
          )
          .run(state.tag, state.eventId, state.blocked ? 1 : 0, deviceId);
      } else {
        await devices().updateOne(
          { deviceId },
          { $set: { blockTag: state.tag, blockEventId: state.eventId, isBlocked: state.blocked } },
        );
      }
    }

    async function moveOwner(deviceId: string, userId: string): Promise<void> {
      if (driver() === 'sqlite') {
        sqlite()
          .prepare('UPDATE worker_devices SET user_id = ? WHERE device_id = ?')
          .run(userId, deviceId);
      } else {
        await devices().updateOne({ deviceId }, { $set: { 'user.id': userId } });
      }
    }

    async function clearV1Retired(): Promise<void> {
      if (driver() === 'sqlite') {
        sqlite().prepare('UPDATE worker_device_seal SET v1_retired_at = NULL').run();
      } else {
        await (store() as MongoStore).connection
          .collection<{ _id: string }>('worker_device_seal')
          .deleteOne({ _id: 'v1-retired' });
      }
    }

    it('should re-tag the states of the form v1 as v2 legacy at the first start, and from then on read a v1 tag, an owner moved or a re-tagged state put back as tampered', async () => {
      const mac = new StoreMac({ signingKey });
      const v1 = (deviceId: string, blocked: boolean, eventId: string) =>
        mac.mac('worker-device-state', JSON.stringify([deviceId, blocked, eventId]));
      const repo = await withTags();
      // tagged in the form v1 by a server before the owner fields were covered
      const d = device();
      const registered = event(d.deviceId, 'registered');
      await repo.register(d, registered);
      const v1Tag = v1(d.deviceId, false, registered.id);
      await putStoredState(d.deviceId, { tag: v1Tag, eventId: registered.id, blocked: false });
      // and one whose v1 state was put back over a later block: not laundered
      const rolled = device();
      const rolledReg = event(rolled.deviceId, 'registered');
      await repo.register(rolled, rolledReg);
      await repo.setBlocked(rolled.deviceId, true, event(rolled.deviceId, 'blocked'));
      const rolledTag = v1(rolled.deviceId, false, rolledReg.id);
      await putStoredState(rolled.deviceId, {
        tag: rolledTag,
        eventId: rolledReg.id,
        blocked: false,
      });
      await clearV1Retired();

      const upgraded = await withTags();
      expect(await upgraded.findByDeviceId(d.deviceId)).toMatchObject({
        isBlocked: false,
        blockIntegrity: 'legacy',
      });
      const retagged = await storedState(d.deviceId);
      expect(retagged.tag).not.toEqual(v1Tag);
      expect(await upgraded.findByDeviceId(rolled.deviceId)).toMatchObject({
        isBlocked: true,
        blockIntegrity: 'tampered',
      });
      expect((await storedState(rolled.deviceId)).tag).toEqual(rolledTag);

      // the v1 tag put back after the marker, on this start and the next
      await putStoredState(d.deviceId, { ...retagged, tag: v1Tag });
      expect((await upgraded.findByDeviceId(d.deviceId))?.blockIntegrity).toBe('tampered');
      const restarted = await withTags();
      expect(await restarted.findByDeviceId(d.deviceId)).toMatchObject({
        isBlocked: true,
        blockIntegrity: 'tampered',
      });
      expect((await storedState(d.deviceId)).tag).toEqual(v1Tag);

      // the owner of the formerly-v1 device moved: tampered, and an automatic block leaves it so
      await putStoredState(d.deviceId, retagged);
      expect((await restarted.findByDeviceId(d.deviceId))?.blockIntegrity).toBe('legacy');
      await moveOwner(d.deviceId, newId());
      expect(await restarted.findByDeviceId(d.deviceId)).toMatchObject({
        isBlocked: true,
        blockIntegrity: 'tampered',
      });
      expect(await restarted.blockIfUnblocked(d.deviceId, event(d.deviceId, 'blocked'))).toBe(
        false,
      );
      expect(await storedState(d.deviceId)).toEqual(retagged);
      expect(await restarted.findByDeviceId(d.deviceId)).toMatchObject({
        isBlocked: true,
        blockIntegrity: 'tampered',
      });
      expect(await restarted.listEvents(d.deviceId)).toHaveLength(1);
    });

    it('should hold a re-tagged v1 state to the event it names: put back over a later block it reads tampered', async () => {
      const mac = new StoreMac({ signingKey });
      const repo = await withTags();
      const d = device();
      const registered = event(d.deviceId, 'registered');
      await repo.register(d, registered);
      await putStoredState(d.deviceId, {
        tag: mac.mac('worker-device-state', JSON.stringify([d.deviceId, false, registered.id])),
        eventId: registered.id,
        blocked: false,
      });
      await clearV1Retired();
      const upgraded = await withTags();
      expect((await upgraded.findByDeviceId(d.deviceId))?.blockIntegrity).toBe('legacy');
      const saved = await storedState(d.deviceId);
      await upgraded.setBlocked(d.deviceId, true, event(d.deviceId, 'blocked'));
      await putStoredState(d.deviceId, saved);
      expect(await upgraded.findByDeviceId(d.deviceId)).toMatchObject({
        isBlocked: true,
        blockIntegrity: 'tampered',
      });
    });
  },
);
