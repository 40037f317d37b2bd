import { newId } from '@app/common';
import { MongoStore, SqliteStore } from '@app/persistence';
import { describeStoreContract } from '@app/persistence/testing/store-contract';
import { generateStoreMacKey, parseStoreMacKey } from '@app/tlog';
import { Worker } from '../../domain/workforce';
import { WorkerSeal } from './worker-seal';
import { workforceAdapters } from './workforce-persistence';
import { WorkerAudit } from './workforce.repository';
import { enrollmentCode, t0, taggedRepositories } from './testing/workforce-tags';

/**
 * The workers' records with their tags (WorkerSeal), on both stores: a status, sites, phone or
 * trust score changed outside the server, or the newest event deleted, reads `tampered`; an
 * admin's change of such a worker is refused; rows from before the tags read `legacy` once the
 * first server with the tags has tagged them.
 */
let phones = 0;

function worker(siteIds = ['s1']): Worker {
  phones += 1;
  return {
    id: newId(),
    name: 'Sita',
    phone: `+91982${String(phones).padStart(7, '0')}`,
    siteIds,
    trustScore: 50,
    sponsor: { kind: 'admin', actor: 'admin:000000000000' },
    status: 'active',
    createdAt: t0,
  };
}

function audit(): WorkerAudit {
  return { id: newId(), actor: 'admin:000000000000', at: t0, reason: 'left' };
}

describeStoreContract('WorkforceRepository worker tags', workforceAdapters, ({ store, driver }) => {
  const withTags = taggedRepositories(store, [WorkerSeal]);

  /** Sets stored fields of a worker as a database writer would (SQLite column names). */
  async function setStored(id: string, set: Record<string, string | number>): Promise<void> {
    if (driver() === 'sqlite') {
      const db = (store() as SqliteStore).db;
      for (const [column, value] of Object.entries(set)) {
        expect(
          db.prepare(`UPDATE workers SET ${column} = ? WHERE id = ?`).run(value, id).changes,
        ).toBe(1);
      }
    } else {
      const fields: Record<string, string> = {
        status: 'status',
        site_ids: 'siteIds',
        phone: 'phone',
        trust_score: 'trustScore',
      };
      const $set: Record<string, unknown> = {};
      for (const [column, value] of Object.entries(set))
        $set[fields[column]] = column === 'site_ids' ? JSON.parse(String(value)) : value;
      await (store() as MongoStore).connection
        .collection('workers')
        .updateOne({ _id: id as never }, { $set });
    }
  }

  /** Deletes a worker's events of `action` as a database writer would. */
  async function deleteEvents(id: string, action: string): Promise<void> {
    if (driver() === 'sqlite') {
      (store() as SqliteStore).db
        .prepare('DELETE FROM worker_events WHERE worker_id = ? AND action = ?')
        .run(id, action);
    } else {
      await (store() as MongoStore).connection
        .collection('workers')
        .updateOne({ _id: id as never }, { $pull: { events: { action } } as never });
    }
  }

  it('should read what this server wrote as verified, and each field a decision reads changed in the store as tampered', async () => {
    const repo = await withTags();
    const edits: Record<string, string | number>[] = [
      { status: 'inactive' },
      { site_ids: '["s1","s2"]' },
      { phone: '+919999999999' },
      { trust_score: 95 },
    ];
    const ids: string[] = [];
    for (let i = 0; i < edits.length; i++) {
      const w = worker();
      expect(await repo.createWorker(w, enrollmentCode('worker', w.id))).toBeUndefined();
      expect(await repo.findWorkerById(w.id)).toMatchObject({ integrity: 'verified' });
      ids.push(w.id);
    }
    for (const [i, id] of ids.entries()) await setStored(id, edits[i]);
    for (const id of ids) expect((await repo.findWorkerById(id))?.integrity).toBe('tampered');
    expect((await repo.findWorkersByIds(ids)).map((w) => w.integrity)).toEqual(
      ids.map(() => 'tampered'),
    );
    // an admin's change would vouch for the stored fields: refused, nothing written
    await expect(repo.updateWorker(ids[0], { name: 'Gita' }, audit())).rejects.toMatchObject({
      code: 'worker_tampered',
    });
    await expect(repo.setWorkerStatus(ids[1], 'inactive', audit())).rejects.toMatchObject({
      code: 'worker_tampered',
    });
    expect((await repo.findWorkerById(ids[0]))?.name).toBe('Sita');
  });

  it("should leave a worker whose sponsor was rewritten in the store out of that thekedar's crew", async () => {
    const repo = await withTags();
    const thekedarId = newId();
    const own = { ...worker(), sponsor: { kind: 'thekedar', thekedarId } } as Worker;
    const moved = worker();
    await repo.createWorker(own, enrollmentCode('worker', own.id));
    await repo.createWorker(moved, enrollmentCode('worker', moved.id));
    expect(await repo.listWorkerIdsOfThekedar(thekedarId)).toEqual([own.id]);
    const sponsor = { kind: 'thekedar', thekedarId };
    if (driver() === 'sqlite') {
      (store() as SqliteStore).db
        .prepare('UPDATE workers SET sponsor = ? WHERE id = ?')
        .run(JSON.stringify(sponsor), moved.id);
    } else {
      await (store() as MongoStore).connection
        .collection('workers')
        .updateOne({ _id: moved.id as never }, { $set: { sponsor } });
    }
    expect(await repo.listWorkerIdsOfThekedar(thekedarId)).toEqual([own.id]);
    expect((await repo.findWorkerById(moved.id))?.integrity).toBe('tampered');
  });

  it('should read a deactivated worker set active with its deactivation deleted as tampered, and the changes the server makes as verified', async () => {
    const repo = await withTags();
    const w = worker();
    await repo.createWorker(w, enrollmentCode('worker', w.id));
    await repo.updateWorker(w.id, { siteIds: ['s1', 's3'], phone: '+919800000777' }, audit());
    expect(await repo.findWorkerById(w.id)).toMatchObject({
      siteIds: ['s1', 's3'],
      integrity: 'verified',
    });
    expect(await repo.setWorkerStatus(w.id, 'inactive', audit())).toMatchObject({
      status: 'inactive',
      integrity: 'verified',
    });
    expect((await repo.findWorkerById(w.id))?.integrity).toBe('verified');

    await deleteEvents(w.id, 'deactivated');
    expect((await repo.findWorkerById(w.id))?.integrity).toBe('tampered');
    await setStored(w.id, { status: 'active' });
    expect(await repo.findWorkerById(w.id)).toMatchObject({
      status: 'active',
      integrity: 'tampered',
    });
  });

  it('should tag the workers from before the tags as legacy at the first start with them, and re-tag under the current key with keys:retag', async () => {
    const old = parseStoreMacKey('STORE_MAC_KEY', generateStoreMacKey());
    const current = parseStoreMacKey('STORE_MAC_KEY', generateStoreMacKey());
    const untagged = await withTags();
    const w = worker();
    await untagged.createWorker(w, enrollmentCode('worker', w.id));
    // a store from before the tags: no tag, no marker
    if (driver() === 'sqlite') {
      const db = (store() as SqliteStore).db;
      db.prepare('UPDATE workers SET tag = NULL, event_id = NULL').run();
      db.prepare('UPDATE worker_seal SET legacy_sealed_at = NULL').run();
    } else {
      const c = (store() as MongoStore).connection;
      await c.collection('workers').updateMany({}, { $unset: { tag: 1, eventId: 1 } });
      await c.collection('worker_seal').deleteMany({});
    }
    const first = await withTags({ current: old });
    expect(await first.findWorkerById(w.id)).toMatchObject({ integrity: 'legacy' });
    expect((await first.legacySeal()).count).toBe(1);

    const rotated = await withTags({ current, retired: [old] });
    expect(await rotated.retagPage('', 10, [])).toEqual([
      { workerId: w.id, result: 'retagged', from: old.kid },
    ]);
    const dropped = await withTags({ current });
    expect(await dropped.findWorkerById(w.id)).toMatchObject({ integrity: 'legacy' });
    expect(await dropped.retagPage('', 10, [])).toEqual([{ workerId: w.id, result: 'current' }]);

    await setStored(w.id, { trust_score: 99 });
    expect(await dropped.retagPage('', 10, [])).toEqual([{ workerId: w.id, result: 'tampered' }]);
  });
});
