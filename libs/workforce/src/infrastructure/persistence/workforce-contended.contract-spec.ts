import { newId } from '@app/common';
import { MongoStore } from '@app/persistence';
import { describeStoreContract } from '@app/persistence/testing/store-contract';
import { Site, Thekedar, Worker } from '../../domain/workforce';
import { SiteSeal, ThekedarSeal } from './site-seal';
import { WorkerSeal } from './worker-seal';
import { workforceAdapters } from './workforce-persistence';
import { WorkforceRepository } from './workforce.repository';
import { enrollmentCode, t0, taggedRepositories } from './testing/workforce-tags';

/**
 * A change of a worker, site or thekedar, and an enrollment code's replacement, on MongoDB are
 * compare-and-sets over the document as read, tried REPLACE_ATTEMPTS times. When every try
 * misses (another change of the same document committed between each read and its write, by
 * another request or replica) the change answered a plain Error, a 500: it is now 503
 * `workforce_change_contended` (retry), nothing written. The competing writes are real: another
 * repository on the same store changes the document between each read and the compare-and-set
 * (the model's write is wrapped to let it in first). SQLite writes in one transaction: no
 * contention to lose.
 */
let phones = 0;

function site(): Site {
  return {
    id: newId(),
    name: 'Tower A',
    geo: { lat: 28.6, lng: 77.2 },
    radiusM: 150,
    timeZone: 'Asia/Kolkata',
    createdAt: t0,
  };
}

function person(): { id: string; name: string; phone: string; createdAt: Date } {
  phones += 1;
  return {
    id: newId(),
    name: 'Ramesh',
    phone: `+91984${String(phones).padStart(7, '0')}`,
    createdAt: t0,
  };
}

function thekedar(siteIds: string[]): Thekedar {
  return { ...person(), trustScore: 80, siteIds };
}

function worker(siteIds: string[]): Worker {
  return {
    ...person(),
    siteIds,
    trustScore: 50,
    sponsor: { kind: 'admin', actor: 'admin:000000000000' },
    status: 'active',
  };
}

const audit = () => ({ id: newId(), actor: 'admin:000000000000', at: t0 });

type Write = 'updateOne' | 'findOneAndUpdate';

describeStoreContract(
  'WorkforceRepository compare-and-set under contention',
  workforceAdapters,
  ({ store, driver }) => {
    const withTags = taggedRepositories(store, [WorkerSeal, SiteSeal, ThekedarSeal]);
    const restores: Array<() => void> = [];
    afterEach(() => {
      for (const restore of restores.splice(0)) restore();
    });

    /**
     * Before each `write` of the model `name` is sent, `compete` runs and commits first (its own
     * writes go straight through): every compare-and-set finds the document changed since its
     * read. Returns how many times it ran.
     */
    function competeBefore(name: string, write: Write, compete: () => Promise<unknown>) {
      const model = (store() as MongoStore).connection.model(name) as unknown as Record<
        Write,
        (...args: unknown[]) => { exec: () => Promise<unknown> }
      >;
      const original = model[write];
      let competing = false;
      const runs = { count: 0 };
      const spy = jest.spyOn(model, write).mockImplementation(function (
        this: unknown,
        ...args: unknown[]
      ) {
        const query = original.apply(this, args);
        if (competing) return query;
        const exec = query.exec.bind(query);
        query.exec = async () => {
          competing = true;
          try {
            runs.count += 1;
            await compete();
          } finally {
            competing = false;
          }
          return exec();
        };
        return query;
      });
      restores.push(() => spy.mockRestore());
      return runs;
    }

    async function repositories(): Promise<[WorkforceRepository, WorkforceRepository]> {
      return [await withTags(), await withTags()];
    }

    it("should refuse a site's change with workforce_change_contended when every try meets another change, writing nothing", async () => {
      if (driver() !== 'mongo') return;
      const [repo, other] = await repositories();
      const s = site();
      await repo.createSite(s);
      let n = 0;
      const runs = competeBefore('SiteDocument', 'updateOne', () =>
        other.updateSite(s.id, { name: `Tower ${++n}` }),
      );
      await expect(repo.updateSite(s.id, { radiusM: 300 })).rejects.toMatchObject({
        code: 'workforce_change_contended',
      });
      expect(runs.count).toBe(8);
      const [stored] = await other.findSitesByIds([s.id]);
      expect(stored).toMatchObject({ name: `Tower ${n}`, radiusM: 150, integrity: 'verified' });
    });

    it("should refuse a thekedar's change of sites with workforce_change_contended, writing nothing", async () => {
      if (driver() !== 'mongo') return;
      const [repo, other] = await repositories();
      const a = site();
      const b = site();
      await repo.createSite(a);
      await repo.createSite(b);
      const k = thekedar([a.id]);
      await repo.createThekedar(k, enrollmentCode('thekedar', k.id));
      let n = 0;
      competeBefore('ThekedarDocument', 'updateOne', () =>
        other.updateThekedarSites(k.id, ++n % 2 === 0 ? [a.id] : []),
      );
      await expect(repo.updateThekedarSites(k.id, [a.id, b.id])).rejects.toMatchObject({
        code: 'workforce_change_contended',
      });
      const stored = await other.findThekedarById(k.id);
      expect(stored?.siteIds).not.toContain(b.id);
      expect(stored?.integrity).toBe('verified');
    });

    it("should refuse a worker's change with workforce_change_contended, writing nothing", async () => {
      if (driver() !== 'mongo') return;
      const [repo, other] = await repositories();
      const w = worker(['s1']);
      await repo.createWorker(w, enrollmentCode('worker', w.id));
      let n = 0;
      competeBefore('WorkerDocument', 'findOneAndUpdate', () =>
        other.updateWorker(w.id, { name: `Sita ${++n}` }, audit()),
      );
      await expect(
        repo.updateWorker(w.id, { siteIds: ['s1', 's2'] }, audit()),
      ).rejects.toMatchObject({ code: 'workforce_change_contended' });
      const stored = await other.findWorkerById(w.id);
      expect(stored).toMatchObject({ name: `Sita ${n}`, siteIds: ['s1'], integrity: 'verified' });
    });

    it("should refuse an enrollment code's replacement with workforce_change_contended, writing nothing", async () => {
      if (driver() !== 'mongo') return;
      const [repo, other] = await repositories();
      const w = worker(['s1']);
      await repo.createWorker(w, enrollmentCode('worker', w.id));
      competeBefore('WorkerDocument', 'updateOne', () =>
        other.replaceEnrollment(enrollmentCode('worker', w.id)),
      );
      const mine = enrollmentCode('worker', w.id);
      await expect(repo.replaceEnrollment(mine)).rejects.toMatchObject({
        code: 'workforce_change_contended',
      });
      expect(await other.findEnrollment(mine.codeHash)).toBeUndefined();
    });
  },
);
