import { generateKeyPairSync } from 'node:crypto';
import { newId } from '@app/common';
import { fraudConfig } from '@app/fraud';
import { MongoStore, SqliteStore } from '@app/persistence';
import { compileAdapter, CompiledAdapter } from '@app/persistence/testing/compile-adapter';
import { describeStoreContract } from '@app/persistence/testing/store-contract';
import { StoreMac, tlogConfig } from '@app/tlog';
import { EnrollmentCode, Thekedar, Worker } from '../../domain/workforce';
import { SiteSeal, ThekedarSeal } from './site-seal';
import { WorkerSeal } from './worker-seal';
import { workforceAdapters } from './workforce-persistence';
import { WorkforceRepository } from './workforce.repository';

/**
 * Stored text is canonical (docs/architecture.md), on both stores: a worker or thekedar row
 * whose tag still verifies over its parsed values, but whose stored form is not the one the
 * server writes (a JSON text with a duplicate key, a time spelled otherwise, a MongoDB time that
 * is not a date), reads `tampered`: SQL would select it by values the tag never vouched for.
 */
const signingKey = generateKeyPairSync('ed25519').privateKey;
const t0 = new Date('2026-01-01T00:00:00.000Z');
let phones = 0;

function worker(sponsor: Worker['sponsor']): Worker {
  phones += 1;
  return {
    id: newId(),
    name: 'Sita',
    phone: `+91983${String(phones).padStart(7, '0')}`,
    siteIds: ['s1'],
    trustScore: 50,
    sponsor,
    status: 'active',
    createdAt: t0,
  };
}

function code(personId: string, personKind: EnrollmentCode['personKind']): EnrollmentCode {
  return { codeHash: newId(), personKind, personId, expiresAt: new Date('2026-02-01T00:00:00Z') };
}

describeStoreContract(
  'WorkforceRepository stored forms',
  workforceAdapters,
  ({ store, driver }) => {
    const opened: CompiledAdapter<WorkforceRepository>[] = [];
    afterEach(async () => {
      for (const a of opened.splice(0)) await a.close();
    });

    async function withTags(): Promise<WorkforceRepository> {
      const compiled = await compileAdapter(store(), workforceAdapters, {
        providers: [
          { provide: tlogConfig.KEY, useValue: { signingKey } },
          { provide: fraudConfig.KEY, useValue: { legacyTagging: true } },
          StoreMac,
          WorkerSeal,
          SiteSeal,
          ThekedarSeal,
        ],
      });
      opened.push(compiled);
      return compiled.adapter;
    }

    const sqlite = () => (store() as SqliteStore).db;
    const mongo = (name: string) => (store() as MongoStore).connection.collection<any>(name);

    it("should read a worker whose sponsor holds a duplicate thekedarId as tampered, in no thekedar's crew", async () => {
      const repo = await withTags();
      const t1 = newId();
      const t2 = newId();
      const w = worker({ kind: 'thekedar', thekedarId: t1 });
      await repo.createWorker(w, code(w.id, 'worker'));
      expect(await repo.listWorkerIdsOfThekedar(t1)).toEqual([w.id]);
      expect((await repo.findWorkerById(w.id))?.integrity).toBe('verified');
      if (driver() === 'sqlite') {
        // json_extract (the crew query, its index) reads the first key, JSON.parse the last
        sqlite()
          .prepare(
            `UPDATE workers SET sponsor = '{"kind":"thekedar","thekedarId":"' || ? || '",' || substr(sponsor, 2) WHERE id = ?`,
          )
          .run(t2, w.id);
      } else {
        // the crew query matches an array holding t2; the tag reads an array, not t1
        await mongo('workers').updateOne(
          { _id: w.id },
          { $set: { 'sponsor.thekedarId': [t2, t1] } },
        );
      }
      expect(await repo.listWorkerIdsOfThekedar(t2)).toEqual([]);
      expect(await repo.listWorkerIdsOfThekedar(t1)).toEqual([]);
      expect((await repo.findWorkerById(w.id))?.integrity).toBe('tampered');
    });

    it('should read a worker whose times are stored in another form than the server writes as tampered', async () => {
      const repo = await withTags();
      const edits: ((id: string) => unknown)[] =
        driver() === 'sqlite'
          ? [
              (id) =>
                sqlite()
                  .prepare('UPDATE workers SET created_at = ? WHERE id = ?')
                  .run(t0.toString(), id),
              (id) =>
                sqlite().prepare(`UPDATE workers SET site_ids = '[ "s1" ]' WHERE id = ?`).run(id),
            ]
          : [
              (id) =>
                mongo('workers').updateOne({ _id: id }, { $set: { createdAt: t0.toISOString() } }),
              (id) =>
                mongo('workers').updateOne({ _id: id }, { $set: { createdAt: t0.getTime() } }),
            ];
      for (const edit of edits) {
        const w = worker({ kind: 'admin', actor: 'admin:000000000000' });
        await repo.createWorker(w, code(w.id, 'worker'));
        expect((await repo.findWorkerById(w.id))?.integrity).toBe('verified');
        await edit(w.id);
        expect((await repo.findWorkerById(w.id))?.integrity).toBe('tampered');
      }
    });

    it('should read a thekedar whose stored sites or time are in another form than the server writes as tampered', async () => {
      const repo = await withTags();
      const k: Thekedar = {
        id: newId(),
        name: 'R',
        phone: '+919810000001',
        trustScore: 80,
        siteIds: ['s1', 's2'],
        createdAt: t0,
      };
      await repo.createThekedar(k, code(k.id, 'thekedar'));
      expect((await repo.findThekedarById(k.id))?.integrity).toBe('verified');
      if (driver() === 'sqlite') {
        sqlite().prepare(`UPDATE thekedars SET site_ids = '["s1", "s2"]' WHERE id = ?`).run(k.id);
      } else {
        await mongo('thekedars').updateOne(
          { _id: k.id },
          { $set: { createdAt: t0.toISOString() } },
        );
      }
      expect((await repo.findThekedarById(k.id))?.integrity).toBe('tampered');
    });

    it("should refuse a worker with another's number at its site though the other's claims were deleted in the store", async () => {
      const repo = await withTags();
      const first = worker({ kind: 'admin', actor: 'admin:000000000000' });
      await repo.createWorker(first, code(first.id, 'worker'));
      const again = {
        ...worker({ kind: 'admin', actor: 'admin:000000000000' }),
        phone: first.phone,
      };
      expect(await repo.createWorker(again, code(again.id, 'worker'))).toMatchObject({
        workerId: first.id,
      });
      if (driver() === 'sqlite') {
        sqlite().prepare('DELETE FROM worker_phone_claims WHERE worker_id = ?').run(first.id);
      } else {
        await mongo('workers').updateOne(
          { _id: first.id },
          { $unset: { phoneClaims: 1, phoneClaimsForm: 1 } },
        );
      }
      expect(await repo.createWorker(again, code(again.id, 'worker'))).toMatchObject({
        workerId: first.id,
      });
      expect(await repo.findWorkerById(again.id)).toBeUndefined();
      // a worker at another site takes the number there, as before
      const elsewhere = { ...again, id: newId(), siteIds: ['s9'] };
      expect(await repo.createWorker(elsewhere, code(elsewhere.id, 'worker'))).toBeUndefined();
    });
  },
);
