import { generateKeyPairSync } from 'node:crypto';
import { newId } from '@app/common';
import { fraudConfig } from '@app/fraud';
import { MongoStore, SqliteStore } from '@app/persistence';
import { compileAdapter, CompiledAdapter } from '@app/persistence/testing/compile-adapter';
import { describeStoreContract } from '@app/persistence/testing/store-contract';
import { StoreMac, tlogConfig } from '@app/tlog';
import { WorkerDevice, WorkerDeviceEvent } from '../../domain/worker-device';
import { WorkerDeviceRepository } from './worker-device.repository';
import { workerDeviceAdapters } from './worker-persistence';
import { WorkerDeviceSeal } from './worker-device-seal';

/**
 * Stored text is canonical (docs/architecture.md), on both stores: a device whose tag still
 * verifies over its parsed values, but whose stored form is not the one the server writes (a
 * fingerprint with a duplicate `simHash`, `is_blocked = 2`, a time that is not a date), reads
 * `tampered` and blocked; an event whose time is spelled otherwise reads `tampered` (the trust
 * floor never starts from it).
 */
const signingKey = generateKeyPairSync('ed25519').privateKey;

function device(simHash = newId()): WorkerDevice {
  return {
    id: newId(),
    deviceId: newId(),
    user: { kind: 'worker', id: newId() },
    siteIds: [newId()],
    fingerprint: { os: 'Android 14', model: 'Redmi', simHash },
    sealedSecret: 'sealed1.v1.x.y.z',
    trustScore: 50,
    isBlocked: false,
    createdAt: new Date('2026-01-01T00:00:00.000Z'),
  };
}

function event(deviceId: string, action: WorkerDeviceEvent['action'], at: Date): WorkerDeviceEvent {
  return { id: newId(), deviceId, action, actor: 'admin:000000000000', reason: 'why', at };
}

describeStoreContract(
  'WorkerDeviceRepository stored forms',
  workerDeviceAdapters,
  ({ store, driver }) => {
    const opened: CompiledAdapter<WorkerDeviceRepository>[] = [];
    afterEach(async () => {
      for (const a of opened.splice(0)) await a.close();
    });

    async function withTags(): Promise<WorkerDeviceRepository> {
      const compiled = await compileAdapter(store(), workerDeviceAdapters, {
        providers: [
          { provide: tlogConfig.KEY, useValue: { signingKey } },
          { provide: fraudConfig.KEY, useValue: { legacyTagging: true } },
          StoreMac,
          WorkerDeviceSeal,
        ],
      });
      opened.push(compiled);
      return compiled.adapter;
    }

    const sqlite = () => (store() as SqliteStore).db;
    const devices = () => (store() as MongoStore).connection.collection<any>('worker_devices');

    async function registered(repo: WorkerDeviceRepository, simHash?: string) {
      const d = device(simHash);
      await repo.register(d, event(d.deviceId, 'registered', d.createdAt));
      expect(await repo.findByDeviceId(d.deviceId)).toMatchObject({
        isBlocked: false,
        blockIntegrity: 'verified',
      });
      return d;
    }

    it('should read a device whose fingerprint hides its simHash behind a duplicate key, or whose block flag is neither 0 nor 1, as tampered and blocked', async () => {
      const repo = await withTags();
      const sim = newId();
      const hidden = await registered(repo, sim);
      const flagged = await registered(repo);
      if (driver() === 'sqlite') {
        // json_extract (the shared-device lookup, its index) reads the first key, JSON.parse the last
        sqlite()
          .prepare(
            `UPDATE worker_devices SET fingerprint = '{"simHash":"decoy",' || substr(fingerprint, 2) WHERE device_id = ?`,
          )
          .run(hidden.deviceId);
        expect(await repo.listDeviceIdsBySimHash(sim)).toEqual([]);
        // read as unblocked by `=== 1`, as blocked already by the automatic block's `!== 0`
        sqlite()
          .prepare('UPDATE worker_devices SET is_blocked = 2 WHERE device_id = ?')
          .run(flagged.deviceId);
      } else {
        await devices().updateOne(
          { deviceId: hidden.deviceId },
          { $set: { createdAt: '2026-01-01T00:00:00.000Z' } },
        );
        await devices().updateOne({ deviceId: flagged.deviceId }, { $set: { isBlocked: 0 } });
      }
      for (const d of [hidden, flagged]) {
        expect(await repo.findByDeviceId(d.deviceId)).toMatchObject({
          isBlocked: true,
          blockIntegrity: 'tampered',
        });
        const [listed] = (await repo.list({ limit: 500 })).filter((x) => x.deviceId === d.deviceId);
        expect(listed).toMatchObject({ isBlocked: true, blockIntegrity: 'tampered' });
        // the repair: an admin's unblock vouches for the device as read, in the server's form
        await repo.setBlocked(d.deviceId, false, event(d.deviceId, 'unblocked', new Date()));
        expect(await repo.findByDeviceId(d.deviceId)).toMatchObject({
          isBlocked: false,
          blockIntegrity: 'verified',
          fingerprint: d.fingerprint,
          createdAt: d.createdAt,
        });
      }
      expect(await repo.listDeviceIdsBySimHash(sim)).toEqual([hidden.deviceId]);
    });

    it("should read an event whose time is spelled otherwise as tampered: the latest unblock is the admin's last one", async () => {
      const repo = await withTags();
      const d = await registered(repo);
      const u1 = event(d.deviceId, 'unblocked', new Date('2026-01-02T00:00:00.000Z'));
      await repo.setBlocked(d.deviceId, true, event(d.deviceId, 'blocked', u1.at));
      await repo.setBlocked(d.deviceId, false, u1);
      const u2at = new Date('2026-01-05T00:00:00.000Z');
      await repo.setBlocked(d.deviceId, true, event(d.deviceId, 'blocked', u2at));
      await repo.setBlocked(d.deviceId, false, event(d.deviceId, 'unblocked', u2at));
      expect((await repo.lastEventAt(d.deviceId, 'unblocked')).at).toEqual(u2at);
      if (driver() === 'sqlite') {
        // the same instant, sorting above every ISO time
        sqlite()
          .prepare('UPDATE worker_device_events SET at = ? WHERE id = ?')
          .run('Fri Jan 02 2026 00:00:00.000 GMT+0000', u1.id);
      } else {
        await devices().updateOne(
          { deviceId: d.deviceId, 'events._id': u1.id },
          { $set: { 'events.$.at': u1.at.toISOString() } },
        );
      }
      const last = await repo.lastEventAt(d.deviceId, 'unblocked');
      expect(last.at).toEqual(u2at);
      const events = await repo.listEvents(d.deviceId);
      expect(events.find((e) => e.id === u1.id)?.integrity).toBe('tampered');
    });
  },
);
