import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { newId } from '@app/common';
import { fraudConfig } from '@app/fraud';
import { MongoStore, SqliteStore } from '@app/persistence';
import { compileAdapter, CompiledAdapter } from '@app/persistence/testing/compile-adapter';
import { describeStoreContract } from '@app/persistence/testing/store-contract';
import { parseStoreMacKey, StoreMac, StoreMacKey, tlogConfig } from '@app/tlog';
import { KioskDevice, KioskEvent } from '../../domain/kiosk-device';
import { KioskDeviceRepository } from './kiosk-device.repository';
import { kioskDeviceAdapters } from './kiosk-persistence';
import { KioskSeal } from './kiosk-seal';

/**
 * The kiosk store with its tags (KioskSeal), on both stores: a public key or a status changed
 * outside the server reads as `tampered` and blocked; rows from before the tags read `legacy`
 * once the first server with the tags has tagged them, under the fraud tags' rule and switch.
 */
const signingKey = generateKeyPairSync('ed25519').privateKey;

function kiosk(deviceId = `TEE-${newId()}`): KioskDevice {
  const now = new Date('2026-01-01T00:00:00.000Z');
  return {
    id: newId(),
    deviceId,
    publicKeyPem: `PEM ${deviceId}`,
    keyFingerprint: createHash('sha256').update(deviceId).digest('hex'),
    status: 'active',
    createdAt: now,
    updatedAt: now,
  };
}

function event(deviceId: string, action: KioskEvent['action']): KioskEvent {
  return { id: newId(), deviceId, action, actor: 'admin:000000000000', at: new Date() };
}

describeStoreContract(
  'KioskDeviceRepository tags',
  kioskDeviceAdapters,
  ({ sut, store, driver }) => {
    const opened: CompiledAdapter<KioskDeviceRepository>[] = [];
    afterEach(async () => {
      for (const a of opened.splice(0)) await a.close();
    });

    async function withTags(
      legacyTagging = true,
      legacyTaggingExplicit = false,
      keys?: { current: StoreMacKey; retired?: StoreMacKey[] },
    ): Promise<KioskDeviceRepository> {
      const tlog = keys
        ? { signingKey, storeMacKey: keys.current, storeMacRetiredKeys: keys.retired ?? [] }
        : { signingKey };
      const compiled = await compileAdapter(store(), kioskDeviceAdapters, {
        providers: [
          { provide: tlogConfig.KEY, useValue: tlog },
          { provide: fraudConfig.KEY, useValue: { legacyTagging, legacyTaggingExplicit } },
          StoreMac,
          KioskSeal,
        ],
      });
      opened.push(compiled);
      return compiled.adapter;
    }

    async function setStored(deviceId: string, set: { publicKeyPem?: string; status?: string }) {
      if (driver() === 'sqlite') {
        const db = (store() as SqliteStore).db;
        if (set.publicKeyPem !== undefined)
          db.prepare('UPDATE kiosk_devices SET public_key_pem = ? WHERE device_id = ?').run(
            set.publicKeyPem,
            deviceId,
          );
        if (set.status !== undefined)
          db.prepare('UPDATE kiosk_devices SET status = ? WHERE device_id = ?').run(
            set.status,
            deviceId,
          );
      } else {
        await (store() as MongoStore).connection
          .collection('kiosk_devices')
          .updateOne({ deviceId }, { $set: set });
      }
    }

    async function clearMarker(): Promise<void> {
      if (driver() === 'sqlite') {
        (store() as SqliteStore).db.prepare('UPDATE kiosk_seal SET legacy_sealed_at = NULL').run();
      } else {
        await (store() as MongoStore).connection.collection('kiosk_seal').deleteMany({});
      }
    }

    it('should read what this server wrote as verified, and a key swapped or an unblock in the store as tampered and blocked', async () => {
      const repo = await withTags();
      const swapped = kiosk();
      const unblocked = kiosk();
      await repo.register(swapped, event(swapped.deviceId, 'registered'));
      await repo.register(unblocked, event(unblocked.deviceId, 'registered'));
      await repo.setStatus(unblocked.deviceId, 'blocked', event(unblocked.deviceId, 'blocked'));
      expect(await repo.findByDeviceId(swapped.deviceId)).toMatchObject({
        status: 'active',
        integrity: 'verified',
      });
      expect(await repo.findByDeviceId(unblocked.deviceId)).toMatchObject({
        status: 'blocked',
        integrity: 'verified',
      });

      await setStored(swapped.deviceId, { publicKeyPem: 'PEM of a database writer' });
      await setStored(unblocked.deviceId, { status: 'active' });
      for (const id of [swapped.deviceId, unblocked.deviceId]) {
        expect(await repo.findByDeviceId(id)).toMatchObject({
          status: 'blocked',
          integrity: 'tampered',
        });
      }
      const listed = await repo.list({ limit: 10 });
      expect(listed.map((k) => k.integrity)).toEqual(['tampered', 'tampered']);
      // an unblock writes nothing over a tampered kiosk (it would vouch for the stored key)
      const change = await repo.setStatus(
        unblocked.deviceId,
        'active',
        event(unblocked.deviceId, 'unblocked'),
      );
      expect(change).toMatchObject({ changed: false, device: { integrity: 'tampered' } });
      // a rotation to the genuine key repairs it, blocked; an unblock then makes it active
      const rotated = await repo.rotateKey(
        swapped.deviceId,
        { publicKeyPem: swapped.publicKeyPem, keyFingerprint: swapped.keyFingerprint },
        event(swapped.deviceId, 'key_rotated'),
      );
      expect(rotated).toMatchObject({
        publicKeyPem: swapped.publicKeyPem,
        status: 'blocked',
        integrity: 'verified',
      });
      expect(
        await repo.setStatus(swapped.deviceId, 'active', event(swapped.deviceId, 'unblocked')),
      ).toMatchObject({ changed: true, device: { status: 'active', integrity: 'verified' } });
    });

    it('should tag kiosks from before the tags once, as legacy; a later change in the store is tampered', async () => {
      // written by a server without the tags (as before the upgrade)
      const old = kiosk();
      const blocked = kiosk();
      await sut().register(old, event(old.deviceId, 'registered'));
      await sut().register(blocked, event(blocked.deviceId, 'registered'));
      await sut().setStatus(blocked.deviceId, 'blocked', event(blocked.deviceId, 'blocked'));
      const repo = await withTags();
      expect(await repo.findByDeviceId(old.deviceId)).toMatchObject({
        status: 'active',
        integrity: 'legacy',
      });
      expect(await repo.findByDeviceId(blocked.deviceId)).toMatchObject({
        status: 'blocked',
        integrity: 'legacy',
      });
      // once: a blocked legacy kiosk unblocked in the store stays blocked after a restart
      await setStored(blocked.deviceId, { status: 'active' });
      const restarted = await withTags();
      expect(await restarted.findByDeviceId(blocked.deviceId)).toMatchObject({
        status: 'blocked',
        integrity: 'tampered',
      });
      // the next change tags it as the server's
      await restarted.setStatus(old.deviceId, 'blocked', event(old.deviceId, 'blocked'));
      expect(await restarted.findByDeviceId(old.deviceId)).toMatchObject({
        status: 'blocked',
        integrity: 'verified',
      });
    });

    it('should refuse the legacy tagging with FRAUD_LEGACY_TAGGING off, or with tagged kiosks and the marker cleared (unless set explicitly)', async () => {
      const old = kiosk();
      await sut().register(old, event(old.deviceId, 'registered'));
      const refusing = await withTags(false);
      expect(await refusing.findByDeviceId(old.deviceId)).toMatchObject({
        status: 'blocked',
        integrity: 'tampered',
      });
      const repo = await withTags();
      expect((await repo.findByDeviceId(old.deviceId))?.integrity).toBe('legacy');
      // a kiosk inserted untagged, the marker cleared: refused, it reads tampered
      const forged = kiosk();
      await sut().register(forged, event(forged.deviceId, 'registered'));
      await clearMarker();
      const restarted = await withTags();
      expect(await restarted.findByDeviceId(forged.deviceId)).toMatchObject({
        status: 'blocked',
        integrity: 'tampered',
      });
      // FRAUD_LEGACY_TAGGING=1 set explicitly: the operator's word
      const forced = await withTags(true, true);
      expect((await forced.findByDeviceId(forged.deviceId))?.integrity).toBe('legacy');
      expect((await forced.findByDeviceId(old.deviceId))?.integrity).toBe('legacy');
    });

    /** The kiosk's stored state (its fields, tag and bound event; not its events). */
    async function copyState(deviceId: string): Promise<Record<string, unknown>> {
      if (driver() === 'sqlite') {
        return (store() as SqliteStore).db
          .prepare('SELECT * FROM kiosk_devices WHERE device_id = ?')
          .get(deviceId) as Record<string, unknown>;
      }
      const { events: _events, ...fields } = (await (store() as MongoStore).connection
        .collection('kiosk_devices')
        .findOne({ deviceId })) as unknown as Record<string, unknown>;
      return fields;
    }

    async function putBack(deviceId: string, state: Record<string, unknown>): Promise<void> {
      if (driver() === 'sqlite') {
        const columns = Object.keys(state).filter((c) => c !== 'device_id');
        (store() as SqliteStore).db
          .prepare(
            `UPDATE kiosk_devices SET ${columns.map((c) => `${c} = @${c}`).join(', ')} WHERE device_id = @device_id`,
          )
          .run(state);
      } else {
        const { _id, ...fields } = state;
        await (store() as MongoStore).connection
          .collection('kiosk_devices')
          .updateOne({ deviceId }, { $set: fields });
      }
    }

    it("should read a kiosk's earlier state put back (before a block, a key rotation) as tampered and blocked", async () => {
      const repo = await withTags();
      const k = kiosk();
      await repo.register(k, event(k.deviceId, 'registered'));
      const active = await copyState(k.deviceId);
      await repo.setStatus(k.deviceId, 'blocked', event(k.deviceId, 'blocked'));
      await putBack(k.deviceId, active);
      expect(await repo.findByDeviceId(k.deviceId)).toMatchObject({
        status: 'blocked',
        integrity: 'tampered',
      });
      // repaired: the genuine key (blocked), then an unblock
      await repo.rotateKey(
        k.deviceId,
        { publicKeyPem: k.publicKeyPem, keyFingerprint: k.keyFingerprint },
        event(k.deviceId, 'key_rotated'),
      );
      await repo.setStatus(k.deviceId, 'active', event(k.deviceId, 'unblocked'));
      expect(await repo.findByDeviceId(k.deviceId)).toMatchObject({
        status: 'active',
        integrity: 'verified',
      });
      const beforeRotation = await copyState(k.deviceId);
      await repo.rotateKey(
        k.deviceId,
        { publicKeyPem: 'PEM renewed', keyFingerprint: 'f'.repeat(64) },
        event(k.deviceId, 'key_rotated'),
      );
      await putBack(k.deviceId, beforeRotation);
      expect(await repo.findByDeviceId(k.deviceId)).toMatchObject({
        publicKeyPem: k.publicKeyPem,
        status: 'blocked',
        integrity: 'tampered',
      });
    });

    it('should read a kiosk tagged before its events were as legacy until its next change, and that row put back after it as tampered', async () => {
      const repo = await withTags();
      const k = kiosk();
      await repo.register(k, event(k.deviceId, 'registered'));
      // as a server before this version tagged it: over its data alone, no event bound
      const seal = new KioskSeal(new StoreMac({ signingKey }));
      if (driver() === 'sqlite') {
        (store() as SqliteStore).db
          .prepare(
            'UPDATE kiosk_devices SET tag = ?, event_id = NULL, event_seq = NULL WHERE device_id = ?',
          )
          .run(seal.tag(k), k.deviceId);
        (store() as SqliteStore).db
          .prepare('UPDATE kiosk_events SET seq = NULL, tag = NULL WHERE device_id = ?')
          .run(k.deviceId);
        (store() as SqliteStore).db.prepare('DELETE FROM kiosk_event_mark').run();
      } else {
        const kiosks = (store() as MongoStore).connection.collection('kiosk_devices');
        const doc = await kiosks.findOne({ deviceId: k.deviceId });
        const events = (doc!.events as Record<string, unknown>[]).map(
          ({ seq: _seq, tag: _tag, ...e }) => e,
        );
        await kiosks.updateOne(
          { deviceId: k.deviceId },
          { $set: { tag: seal.tag(k), events }, $unset: { eventId: '', eventSeq: '' } },
        );
      }
      const old = await copyState(k.deviceId);
      expect(await repo.findByDeviceId(k.deviceId)).toMatchObject({
        status: 'active',
        integrity: 'legacy',
      });
      await repo.setStatus(k.deviceId, 'blocked', event(k.deviceId, 'blocked'));
      expect((await repo.findByDeviceId(k.deviceId))?.integrity).toBe('verified');
      await putBack(k.deviceId, old);
      if (driver() === 'mongo') {
        await (store() as MongoStore).connection
          .collection('kiosk_devices')
          .updateOne({ deviceId: k.deviceId }, { $unset: { eventId: '', eventSeq: '' } });
      }
      expect(await repo.findByDeviceId(k.deviceId)).toMatchObject({
        status: 'blocked',
        integrity: 'tampered',
      });
    });

    it('should re-tag under the current key the kiosks under a retired one (keys:retag), never a tampered one, nor one under an excepted key', async () => {
      const newKey = (): StoreMacKey =>
        parseStoreMacKey('STORE_MAC_KEY', randomBytes(32).toString('base64'));
      const [a, b] = [newKey(), newKey()];
      const before = await withTags(true, false, { current: a });
      const [kept, forged] = [kiosk('TEE-A-kept'), kiosk('TEE-B-forged')];
      for (const k of [kept, forged]) await before.register(k, event(k.deviceId, 'registered'));
      await setStored(forged.deviceId, { publicKeyPem: 'PEM of a database writer' });
      const rotated = await withTags(true, false, { current: b, retired: [a] });
      expect(await rotated.retagPage('', 10, [a.kid])).toEqual([
        { deviceId: kept.deviceId, result: 'suspect', from: a.kid },
        { deviceId: forged.deviceId, result: 'tampered' },
      ]);
      expect(await rotated.retagPage('', 10, [])).toEqual([
        { deviceId: kept.deviceId, result: 'retagged', from: a.kid },
        { deviceId: forged.deviceId, result: 'tampered' },
      ]);
      expect((await rotated.retagPage('', 10, [])).map((o) => o.result)).toEqual([
        'current',
        'tampered',
      ]);
      // the mark (SQLite), after the pages as keys:retag does it
      expect(await rotated.retagMark([])).toEqual(
        driver() === 'sqlite'
          ? { result: 'retagged', seq: 2, from: a.kid, tag: expect.any(String) }
          : undefined,
      );
      // key A dropped: the re-tagged kiosk still verifies
      const dropped = await withTags(true, false, { current: b });
      expect(await dropped.findByDeviceId(kept.deviceId)).toMatchObject({
        status: 'active',
        integrity: 'verified',
      });
    });

    it('should refuse a kiosk change over a mark that does not verify, writing nothing (SQLite)', async () => {
      if (driver() !== 'sqlite') return;
      const repo = await withTags();
      const k = kiosk();
      await repo.register(k, event(k.deviceId, 'registered'));
      const db = (store() as SqliteStore).db;
      db.prepare("UPDATE kiosk_event_mark SET tag = 'forged'").run();
      const other = kiosk();
      await expect(repo.register(other, event(other.deviceId, 'registered'))).rejects.toMatchObject(
        { code: 'kiosk_mark_unverified' },
      );
      // the repair too (a block is no change: the kiosk reads tampered, so blocked, already)
      await expect(
        repo.rotateKey(
          k.deviceId,
          { publicKeyPem: 'PEM renewed', keyFingerprint: 'f'.repeat(64) },
          event(k.deviceId, 'key_rotated'),
        ),
      ).rejects.toMatchObject({ code: 'kiosk_mark_unverified' });
      expect(await repo.findByDeviceId(other.deviceId)).toBeUndefined();
      expect(db.prepare('SELECT count(*) AS n FROM kiosk_events').get()).toEqual({ n: 1 });
      expect(db.prepare('SELECT tag FROM kiosk_event_mark').get()).toEqual({ tag: 'forged' });
    });

    it('should list the mark under an excepted key as suspect, left under it, and leave no kiosk tampered once a kiosk change re-marked it before the key is dropped (SQLite)', async () => {
      const newKey = (): StoreMacKey =>
        parseStoreMacKey('STORE_MAC_KEY', randomBytes(32).toString('base64'));
      const [a, b, c] = [newKey(), newKey(), newKey()];
      // two servers' keys: the other kiosk written under c, then one under a (the mark's, now)
      const [other, leaked] = [kiosk('TEE-A-other'), kiosk('TEE-B-leaked')];
      await (
        await withTags(true, false, { current: c })
      ).register(other, event(other.deviceId, 'registered'));
      await (
        await withTags(true, false, { current: a, retired: [c] })
      ).register(leaked, event(leaked.deviceId, 'registered'));
      const rotated = await withTags(true, false, { current: b, retired: [a, c] });
      expect(await rotated.retagPage('', 10, [a.kid])).toEqual([
        { deviceId: other.deviceId, result: 'retagged', from: c.kid },
        { deviceId: leaked.deviceId, result: 'suspect', from: a.kid },
      ]);
      if (driver() !== 'sqlite') {
        expect(await rotated.retagMark([a.kid])).toBeUndefined();
        return;
      }
      expect(await rotated.retagMark([a.kid])).toEqual({
        result: 'suspect',
        seq: 2,
        from: a.kid,
        confirmed: true,
      });
      // left under A: again suspect
      expect((await rotated.retagMark([a.kid]))?.result).toBe('suspect');
      // a kiosk change (the kiosks checked) writes the mark under B
      const third = kiosk('TEE-C-third');
      await rotated.register(third, event(third.deviceId, 'registered'));
      expect(await rotated.retagMark([a.kid])).toEqual({ result: 'current', seq: 3 });
      // key A dropped: the re-tagged kiosk still verifies, the suspect one is blocked
      const dropped = await withTags(true, false, { current: b, retired: [c] });
      expect(await dropped.findByDeviceId(other.deviceId)).toMatchObject({
        status: 'active',
        integrity: 'verified',
      });
      expect(await dropped.findByDeviceId(leaked.deviceId)).toMatchObject({
        status: 'blocked',
        integrity: 'tampered',
      });
    });

    it('should re-tag a kiosk stored without events (MongoDB: no `events` field) rather than find it changed on every try', async () => {
      const newKey = (): StoreMacKey =>
        parseStoreMacKey('STORE_MAC_KEY', randomBytes(32).toString('base64'));
      const [a, b] = [newKey(), newKey()];
      const k = kiosk('TEE-no-events');
      await (
        await withTags(true, false, { current: a })
      ).register(k, event(k.deviceId, 'registered'));
      // as stored before events were kept (legacy-tagged under A, no event)
      const legacyTag = new KioskSeal(new StoreMac({ signingKey, storeMacKey: a })).tag(k, true);
      if (driver() === 'sqlite') {
        const db = (store() as SqliteStore).db;
        db.prepare(
          'UPDATE kiosk_devices SET tag = ?, event_id = NULL, event_seq = NULL WHERE device_id = ?',
        ).run(legacyTag, k.deviceId);
        db.prepare('DELETE FROM kiosk_events WHERE device_id = ?').run(k.deviceId);
        db.prepare('DELETE FROM kiosk_event_mark').run();
      } else {
        await (store() as MongoStore).connection
          .collection('kiosk_devices')
          .updateOne(
            { deviceId: k.deviceId },
            { $set: { tag: legacyTag }, $unset: { events: '', eventId: '', eventSeq: '' } },
          );
      }
      const rotated = await withTags(true, false, { current: b, retired: [a] });
      expect(await rotated.retagPage('', 10, [])).toEqual([
        { deviceId: k.deviceId, result: 'retagged', from: a.kid },
      ]);
      const dropped = await withTags(true, false, { current: b });
      expect((await dropped.findByDeviceId(k.deviceId))?.integrity).toBe('legacy');
    });
  },
);
