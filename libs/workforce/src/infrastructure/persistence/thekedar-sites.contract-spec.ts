import { Logger } from '@nestjs/common';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newId } from '@app/common';
import { MongoStore, SqliteStore, Store } from '@app/persistence';
import { compileAdapter } from '@app/persistence/testing/compile-adapter';
import { describeStoreContract } from '@app/persistence/testing/store-contract';
import { EnrollmentCode, Site, Thekedar, Worker } from '../../domain/workforce';
import { WorkforceMongoMapper } from './mongo/mappers/workforce.mapper';
import { WorkforceSqliteMapper } from './sqlite/mappers/workforce.mapper';
import {
  PHONE_KEY_FUNCTION,
  WORKFORCE_SQLITE_MIGRATIONS,
} from './sqlite/sqlite-workforce.migrations';
import { workforceAdapters } from './workforce-persistence';
import { WorkforceRepository } from './workforce.repository';

const t0 = new Date('2026-01-01T00:00:00.000Z');
let phones = 0;

function site(): Site {
  return { id: newId(), name: 'S', geo: { lat: 28.6, lng: 77.2 }, radiusM: 150, createdAt: t0 };
}

function thekedar(siteIds: string[] = []): Thekedar {
  return { id: newId(), name: 'R', phone: '+919810000000', trustScore: 80, siteIds, createdAt: t0 };
}

function worker(siteIds: string[], sponsor: Worker['sponsor']): Worker {
  phones += 1;
  return {
    id: newId(),
    name: 'Sita',
    phone: `+91982${String(phones).padStart(7, '0')}`,
    siteIds,
    trustScore: 50,
    sponsor,
    status: 'active',
    createdAt: t0,
  };
}

function code(personId: string, personKind: EnrollmentCode['personKind']): EnrollmentCode {
  return { codeHash: newId(), personKind, personId, expiresAt: new Date('2026-02-01T00:00:00Z') };
}

/** The SQLite migrations from before thekedar sites (1–7). */
const BEFORE_SITES = WORKFORCE_SQLITE_MIGRATIONS.filter((m) => m.version <= 7);

/**
 * Writes `sites`, `thekedars` (without their sites) and `workers` as a store from before
 * thekedar sites held them: for SQLite a new file built by migrations 1–7 (its path returned),
 * for MongoDB thekedar documents without `siteIds` in the contract's database.
 */
async function storeFromBefore(
  store: Store,
  dir: string,
  data: { sites: Site[]; thekedars: Thekedar[]; workers: Worker[] },
): Promise<Store> {
  if (store instanceof MongoStore) {
    // the collections' own types want ObjectId ids; ours are hex strings
    const db = store.connection as unknown as {
      collection(name: string): { insertMany(docs: object[]): Promise<unknown> };
    };
    await db.collection('sites').insertMany(data.sites.map(WorkforceMongoMapper.siteToPersistence));
    await db.collection('thekedars').insertMany(
      data.thekedars.map((k) => {
        const doc: Record<string, unknown> = {
          ...WorkforceMongoMapper.thekedarToPersistence(k, code(k.id, 'thekedar')),
        };
        delete doc.siteIds;
        return doc;
      }),
    );
    await db
      .collection('workers')
      .insertMany(
        data.workers.map((w) =>
          WorkforceMongoMapper.workerToPersistence(w, code(w.id, 'worker'), w.phone),
        ),
      );
    return store;
  }
  const old = new SqliteStore(join(dir, 'before-sites.sqlite'));
  // version 6 keys claims with a function the repository defines on its connection
  old.db.function(PHONE_KEY_FUNCTION, (phone, _workerId) => String(phone));
  old.migrate('device-trust.workforce', BEFORE_SITES);
  const insertSite = old.db.prepare(
    `INSERT INTO sites (id, name, lat, lng, radius_m, time_zone, created_at)
     VALUES (@id, @name, @lat, @lng, @radius_m, @time_zone, @created_at)`,
  );
  for (const s of data.sites) insertSite.run(WorkforceSqliteMapper.siteToPersistence(s));
  // the columns of the table before version 8
  const insertThekedar = old.db.prepare(
    `INSERT INTO thekedars (id, name, phone, trust_score, created_at)
     VALUES (@id, @name, @phone, @trust_score, @created_at)`,
  );
  for (const k of data.thekedars) {
    const { site_ids: _notInTheOldSchema, ...row } = WorkforceSqliteMapper.thekedarToPersistence(k);
    insertThekedar.run(row);
  }
  const insertWorker = old.db.prepare(
    `INSERT INTO workers (id, name, phone, site_ids, trust_score, sponsor, trust_inherited_until, created_at)
     VALUES (@id, @name, @phone, @site_ids, @trust_score, @sponsor, @trust_inherited_until, @created_at)`,
  );
  for (const w of data.workers) insertWorker.run(WorkforceSqliteMapper.workerToPersistence(w));
  await old.close();
  return new SqliteStore(join(dir, 'before-sites.sqlite'));
}

describeStoreContract(
  'WorkforceRepository: thekedar sites',
  workforceAdapters,
  ({ sut, store }) => {
    it("should store a thekedar's sites, change them, and list them", async () => {
      const [a, b] = [newId(), newId()].sort();
      const k = thekedar([a, b]);
      await sut().createThekedar(k, code(k.id, 'thekedar'));
      expect(await sut().findThekedarById(k.id)).toEqual(k);
      expect(await sut().updateThekedarSites(k.id, [b])).toEqual({ ...k, siteIds: [b] });
      expect(await sut().findThekedarById(k.id)).toEqual({ ...k, siteIds: [b] });
      expect(await sut().listThekedars({ limit: 10 })).toEqual([{ ...k, siteIds: [b] }]);
      expect(await sut().updateThekedarSites(k.id, [])).toEqual({ ...k, siteIds: [] });
      expect(await sut().updateThekedarSites(newId(), [a])).toBeUndefined();
    });

    it('should give each thekedar from before the existing sites of the workers it onboarded, once, logging each grant', async () => {
      const [a, b, c] = [site(), site(), site()].sort((x, y) => x.id.localeCompare(y.id));
      const gone = newId(); // a site id no site has (never stored)
      const [busy, idle, mixed] = [thekedar(), thekedar(), thekedar()].sort((x, y) =>
        x.id.localeCompare(y.id),
      );
      const by = (k: Thekedar) => ({ kind: 'thekedar' as const, thekedarId: k.id });
      const workers = [
        worker([b.id, a.id], by(busy)),
        worker([a.id, gone], by(busy)),
        worker([a.id], by(mixed)),
        // an admin's worker at c, the thekedars' workers nowhere there: c is no one's
        worker([c.id], { kind: 'admin', actor: 'admin:000000000000' }),
      ];
      const dir = mkdtempSync(join(tmpdir(), 'mdai-thekedar-sites-'));
      const before = await storeFromBefore(store(), dir, {
        sites: [a, b, c],
        thekedars: [busy, idle, mixed],
        workers,
      });
      const warn = jest.spyOn(Logger.prototype, 'warn');
      try {
        const booted = await compileAdapter<WorkforceRepository>(before, workforceAdapters);
        try {
          const repo = booted.adapter;
          expect(await repo.findThekedarById(busy.id)).toEqual({ ...busy, siteIds: [a.id, b.id] });
          expect(await repo.findThekedarById(idle.id)).toEqual({ ...idle, siteIds: [] });
          expect(await repo.findThekedarById(mixed.id)).toEqual({ ...mixed, siteIds: [a.id] });
          const warned = warn.mock.calls.map(([fields, message]) => ({ fields, message }));
          expect(warned).toContainEqual({
            fields: {
              thekedars: [
                { thekedarId: busy.id, siteIds: [a.id, b.id] },
                { thekedarId: mixed.id, siteIds: [a.id] },
              ],
              more: false,
            },
            message: expect.stringContaining('review them'),
          });
          expect(warned).toContainEqual({
            fields: { thekedarIds: [idle.id], more: false },
            message: expect.stringContaining('onboarded no worker'),
          });
          // an admin names the idle one's sites: a later boot keeps them and names no one again
          await repo.updateThekedarSites(idle.id, [c.id]);
        } finally {
          await booted.close();
        }
        warn.mockClear();
        const again = await compileAdapter<WorkforceRepository>(before, workforceAdapters);
        try {
          expect(await again.adapter.findThekedarById(idle.id)).toEqual({
            ...idle,
            siteIds: [c.id],
          });
          const named = warn.mock.calls.filter(([fields]) =>
            JSON.stringify(fields).includes('thekedar'),
          );
          expect(named).toEqual([]);
        } finally {
          await again.close();
        }
      } finally {
        warn.mockRestore();
        if (before instanceof SqliteStore) await before.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  },
);
