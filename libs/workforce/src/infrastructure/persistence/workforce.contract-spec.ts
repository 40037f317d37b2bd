import { Logger } from '@nestjs/common';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newId } from '@app/common';
import { MongoStore, SqliteStore } from '@app/persistence';
import { compileAdapter } from '@app/persistence/testing/compile-adapter';
import { describeStoreContract } from '@app/persistence/testing/store-contract';
import { EnrollmentCode, PhoneTaken, Worker } from '../../domain/workforce';
import { WorkforceError } from '../../workforce.errors';
import {
  PHONE_KEY_FUNCTION,
  WORKFORCE_SQLITE_MIGRATIONS,
} from './sqlite/sqlite-workforce.migrations';
import { workforceAdapters } from './workforce-persistence';
import { WorkerAudit, WorkforceRepository } from './workforce.repository';

const t0 = new Date('2026-01-01T00:00:00.000Z');
let phones = 0;

/** A worker with a phone of its own (each call another number). */
function worker(siteIds: string[]): Worker {
  phones += 1;
  return {
    id: newId(),
    name: 'Sita',
    phone: `+91981${String(phones).padStart(7, '0')}`,
    siteIds,
    trustScore: 50,
    sponsor: { kind: 'admin', actor: 'admin:000000000000' },
    status: 'active',
    createdAt: t0,
  };
}

/** Who makes a change, and when (each call another event id). */
function audit(reason?: string): WorkerAudit {
  return { id: newId(), actor: 'admin:000000000000', at: t0, ...(reason ? { reason } : {}) };
}

function code(personId: string, hash = newId(), expiresAt = new Date('2026-02-01T00:00:00Z')) {
  const enrollment: EnrollmentCode = {
    codeHash: hash,
    personKind: 'worker',
    personId,
    expiresAt,
  };
  return enrollment;
}

/**
 * Workers as MongoDB held them before a claims change, inserted as such: `before: 'claims'`,
 * no phone claims at all (before workforce migration 5); `before: 'e164'`, claims keyed on the
 * phone as typed (without `phoneClaimsForm`, before migration 6), `claimPhone` giving that key.
 */
async function insertLegacyMongoWorkers(
  s: MongoStore,
  workers: Worker[],
  before: 'claims' | 'e164',
  claimPhone: (w: Worker) => string = (w) => w.phone,
): Promise<void> {
  const { WorkforceMongoMapper } = await import('./mongo/mappers/workforce.mapper');
  const docs = workers.map((w) => {
    const doc: Record<string, unknown> = {
      ...WorkforceMongoMapper.workerToPersistence(w, code(w.id), claimPhone(w)),
    };
    delete doc.phoneClaimsForm;
    delete doc.status; // workers had none before statuses either
    if (before === 'claims') delete doc.phoneClaims;
    return doc;
  });
  await s.connection.collection('workers').insertMany(docs);
}

describeStoreContract('WorkforceRepository', workforceAdapters, ({ sut, store }) => {
  it('should create sites and find only the existing ones', async () => {
    const site = {
      id: newId(),
      name: 'A',
      geo: { lat: 28.6, lng: 77.2 },
      radiusM: 150,
      createdAt: t0,
    };
    await sut().createSite(site);
    expect(await sut().findSitesByIds([site.id, newId()])).toEqual([site]);
    expect(await sut().findSitesByIds([])).toEqual([]);
  });

  it('should list sites, thekedars and workers in id order with keyset pages and a site filter', async () => {
    const sites = [newId(), newId(), newId()].sort().map((id) => ({
      id,
      name: `site ${id}`,
      geo: { lat: 28.6, lng: 77.2 },
      radiusM: 150,
      createdAt: t0,
    }));
    for (const site of [...sites].reverse()) await sut().createSite(site);
    expect(await sut().listSites({ limit: 2 })).toEqual(sites.slice(0, 2));
    expect(await sut().listSites({ limit: 5, afterId: sites[1].id })).toEqual([sites[2]]);

    const workers = [
      worker([sites[0].id]),
      worker([sites[1].id, sites[0].id]),
      worker([sites[2].id]),
    ];
    for (const w of workers) await sut().createWorker(w, code(w.id));
    const byId = [...workers].sort((a, b) => a.id.localeCompare(b.id));
    expect((await sut().listWorkers({ limit: 10 })).map((w) => w.id)).toEqual(
      byId.map((w) => w.id),
    );
    expect((await sut().listWorkers({ limit: 1, afterId: byId[0].id }))[0]).toEqual(byId[1]);
    const atSite0 = byId.filter((w) => w.siteIds.includes(sites[0].id)).map((w) => w.id);
    expect((await sut().listWorkers({ limit: 10, siteId: sites[0].id })).map((w) => w.id)).toEqual(
      atSite0,
    );
    expect(atSite0).toHaveLength(2);
    expect(await sut().listWorkers({ limit: 10, siteId: newId() })).toEqual([]);

    const thekedar = {
      id: newId(),
      name: 'R',
      phone: '+91981',
      trustScore: 80,
      siteIds: [],
      createdAt: t0,
    };
    await sut().createThekedar(thekedar, { ...code(thekedar.id), personKind: 'thekedar' });
    expect(await sut().listThekedars({ limit: 10 })).toEqual([thekedar]);
    expect(await sut().listThekedars({ limit: 10, afterId: thekedar.id })).toEqual([]);
  });

  it('should round-trip a worker, a thekedar and their enrollment codes', async () => {
    const w = worker([newId(), newId()]);
    const c = code(w.id);
    await sut().createWorker(w, c);
    expect(await sut().findWorkerById(w.id)).toEqual(w);
    expect(await sut().findEnrollment(c.codeHash)).toEqual(c);
    const thekedar = {
      id: newId(),
      name: 'R',
      phone: '+91981',
      trustScore: 80,
      siteIds: [newId(), newId()].sort(),
      createdAt: t0,
    };
    const tc = { ...code(thekedar.id), personKind: 'thekedar' as const };
    await sut().createThekedar(thekedar, tc);
    expect(await sut().findThekedarById(thekedar.id)).toEqual(thekedar);
    expect(await sut().findEnrollment(tc.codeHash)).toEqual(tc);
    expect(await sut().findWorkerById(newId())).toBeUndefined();
  });

  it('should refuse a second worker with a phone at one of its sites, or of its thekedar, storing nothing', async () => {
    const [s1, s2, s3] = [newId(), newId(), newId()];
    const first = { ...worker([s1, s2]), phone: '+91 98100-00001' };
    expect(await sut().createWorker(first, code(first.id))).toBeUndefined();
    // the same number written otherwise, at one of the same sites
    const again = { ...worker([s3, s2]), phone: '+919810000001' };
    const c = code(again.id);
    const taken = await sut().createWorker(again, c);
    expect(taken).toBeInstanceOf(PhoneTaken);
    expect(taken).toMatchObject({ workerId: first.id, claim: `site:${s2}|+919810000001` });
    expect(taken!.scope).toEqual({ kind: 'site', id: s2 });
    expect(await sut().findWorkerById(again.id)).toBeUndefined();
    expect(await sut().findEnrollment(c.codeHash)).toBeUndefined();
    // at another site it is another worker's number as well (a worker can change contractor)
    const elsewhere = { ...worker([s3]), phone: first.phone };
    expect(await sut().createWorker(elsewhere, code(elsewhere.id))).toBeUndefined();

    // a thekedar onboards a phone once, whatever the site
    const sponsor = { kind: 'thekedar' as const, thekedarId: newId() };
    const crew = { ...worker([newId()]), sponsor, phone: '+91 90000 00077' };
    expect(await sut().createWorker(crew, code(crew.id))).toBeUndefined();
    const twice = { ...worker([newId()]), sponsor, phone: '+919000000077' };
    expect(await sut().createWorker(twice, code(twice.id))).toMatchObject({
      workerId: crew.id,
      claim: `thekedar:${sponsor.thekedarId}|+919000000077`,
    });
    // another thekedar, or an admin, at another site: free
    const other = { ...worker([newId()]), phone: crew.phone };
    expect(await sut().createWorker(other, code(other.id))).toBeUndefined();
  });

  it('should let exactly one of concurrent creations of one phone at one site store', async () => {
    const site = newId();
    const phone = '+91 98100 55555';
    const attempts = Array.from({ length: 6 }, () => ({ ...worker([site]), phone }));
    const results = await Promise.all(attempts.map((w) => sut().createWorker(w, code(w.id))));
    const stored = attempts.filter((_, i) => results[i] === undefined);
    expect(stored).toHaveLength(1);
    for (const r of results) if (r) expect(r.workerId).toBe(stored[0].id);
    expect((await sut().listWorkers({ limit: 10, siteId: site })).map((w) => w.id)).toEqual([
      stored[0].id,
    ]);
  });

  it("should move a worker's claims with its phone, and refuse a phone another worker holds", async () => {
    const site = newId();
    const a = worker([site]);
    const b = worker([site]);
    for (const w of [a, b]) await sut().createWorker(w, code(w.id));
    const refused = await sut().updateWorker(b.id, { phone: a.phone, name: 'B' }, audit());
    expect(refused).toMatchObject({ workerId: a.id, claim: `site:${site}|${a.phone}` });
    expect(await sut().findWorkerById(b.id)).toEqual(b);
    // a's number moves: its old one is free for b, and a holds the new one
    expect(await sut().updateWorker(a.id, { phone: '+91 70000 00001' }, audit())).toMatchObject({
      phone: '+91 70000 00001',
    });
    expect(await sut().updateWorker(b.id, { phone: a.phone }, audit())).toMatchObject({
      phone: a.phone,
    });
    const late = { ...worker([site]), phone: '+917000000001' };
    expect(await sut().createWorker(late, code(late.id))).toMatchObject({ workerId: a.id });
    // the same number written otherwise is no change of claims
    expect(await sut().updateWorker(a.id, { phone: '+91-70000-00001' }, audit())).toMatchObject({
      phone: '+91-70000-00001',
    });
  });

  it('should answer a phone whose holder keeps changing it with a store, a holder or worker_exists, never the index error', async () => {
    const site = newId();
    const [p, q] = ['+91 70000 44444', '+91 70000 55555'];
    const holder = { ...worker([site]), phone: q };
    await sut().createWorker(holder, code(holder.id));
    let churning = true;
    const churn = (async () => {
      // the holder's phone moves from one number to the other and back, over and over
      for (let i = 0; churning; i++)
        await sut().updateWorker(holder.id, { phone: [p, q][i % 2] }, audit());
    })();
    const errors: unknown[] = [];
    try {
      for (let round = 0; round < 40; round++) {
        const attempts = Array.from({ length: 4 }, () => ({ ...worker([site]), phone: p }));
        const settled = await Promise.allSettled(
          attempts.map((w) => sut().createWorker(w, code(w.id))),
        );
        for (const [i, r] of settled.entries()) {
          if (r.status === 'rejected') errors.push(r.reason);
          else if (r.value === undefined) {
            // stored: moved away, so the holder can keep churning
            await sut().updateWorker(
              attempts[i].id,
              {
                phone: `+91 71000 ${100000 + round * 4 + i}`,
              },
              audit(),
            );
          }
        }
      }
    } finally {
      churning = false;
      await churn.catch((e: unknown) => errors.push(e));
    }
    for (const error of errors) {
      expect(error).toBeInstanceOf(WorkforceError);
      expect(error).toMatchObject({ code: 'worker_exists' });
      expect(String((error as Error).message)).not.toContain('70000');
    }
  });

  it('should tell whether a code of a worker was spent', async () => {
    const w = worker([newId()]);
    const c = code(w.id);
    await sut().createWorker(w, c);
    expect(await sut().hasSpentEnrollment(w.id)).toBe(false);
    expect(await sut().markEnrollmentUsed(c.codeHash, 'dev-1', t0, 'tag-spent')).toBe(true);
    expect(await sut().hasSpentEnrollment(w.id)).toBe(true);
    // a new code in its place: the spent one still counts
    expect(await sut().replaceEnrollment(code(w.id))).toBe(true);
    expect(await sut().hasSpentEnrollment(w.id)).toBe(true);
    expect(await sut().hasSpentEnrollment(newId())).toBe(false);
  });

  it('should boot on a store holding duplicates from before, keeping them, the oldest holding the phone', async () => {
    const site = newId();
    const [older, newer] = [worker([site]), worker([site, newId()])].sort((x, y) =>
      x.id.localeCompare(y.id),
    );
    newer.phone = older.phone.replace(/^\+91/, '+91 ');
    const free = worker([site]);
    // written as the store held them before claims: no claim of either
    const s = store();
    if (s instanceof SqliteStore) {
      const parked = { ...newer, phone: '+91 00000 00000' };
      for (const w of [older, parked, free])
        expect(await sut().createWorker(w, code(w.id))).toBeUndefined();
      // the schema of then: no claims (version 5), no statuses nor worker events (version 7),
      // no enrollment tags (version 11), no worker tags (version 12), no site and thekedar
      // tags (version 13), no phone index (version 14)
      s.db.exec(`DELETE FROM worker_phone_claims;
        DROP INDEX workers_phone;
        DROP TABLE worker_seal;
        DROP TABLE site_seal;
        DROP TABLE thekedar_seal;
        ALTER TABLE sites DROP COLUMN tag;
        ALTER TABLE thekedars DROP COLUMN tag;
        ALTER TABLE workers DROP COLUMN tag;
        ALTER TABLE workers DROP COLUMN event_id;
        DROP TABLE worker_phone_claims;
        DROP TABLE worker_events;
        ALTER TABLE workers DROP COLUMN status;
        ALTER TABLE workers DROP COLUMN status_changed_at;
        ALTER TABLE thekedars DROP COLUMN site_ids;
        ALTER TABLE enrollment_codes DROP COLUMN tag;
        DELETE FROM schema_migrations WHERE scope = 'device-trust.workforce' AND version >= 5;`);
      s.db.prepare('UPDATE workers SET phone = ? WHERE id = ?').run(newer.phone, newer.id);
    } else {
      await insertLegacyMongoWorkers(s as MongoStore, [older, newer, free], 'claims');
    }
    const booted = await compileAdapter<WorkforceRepository>(s, workforceAdapters);
    try {
      const repo = booted.adapter;
      for (const w of [older, newer, free]) expect(await repo.findWorkerById(w.id)).toEqual(w);
      const again = worker([site]);
      again.phone = older.phone;
      expect(await repo.createWorker(again, code(again.id))).toMatchObject({ workerId: older.id });
      again.phone = free.phone;
      expect(await repo.createWorker(again, code(again.id))).toMatchObject({ workerId: free.id });
      // the newer duplicate's other site was free: it holds it
      const there = worker([newer.siteIds[1]]);
      there.phone = older.phone;
      expect(await repo.createWorker(there, code(there.id))).toMatchObject({ workerId: newer.id });
      // given a phone of its own, the duplicate holds its claims
      expect(
        await repo.updateWorker(newer.id, { phone: '+91 70000 12345' }, audit()),
      ).toMatchObject({
        phone: '+91 70000 12345',
      });
      const late = worker([site]);
      late.phone = '+917000012345';
      expect(await repo.createWorker(late, code(late.id))).toMatchObject({ workerId: newer.id });
    } finally {
      await booted.close();
    }
  });

  it("should key old workers' claims in E.164 at boot: of one number written two ways the older keeps it, a number that does not parse stays as typed", async () => {
    const [s1, s2, s3, s4, s5] = [newId(), newId(), newId(), newId(), newId()];
    const crew = { kind: 'thekedar' as const, thekedarId: newId() };
    // stored before numbers were normalized: one number in five spellings, and a number that
    // is not one; each claimed as typed (spaces and dashes aside), so none was a duplicate
    const [a, b, c, d, e, f] = Array.from({ length: 6 }, () => worker([])).sort((x, y) =>
      x.id.localeCompare(y.id),
    );
    Object.assign(a, { phone: '+91 98765 43210', siteIds: [s1] });
    Object.assign(b, { phone: '09876543210', siteIds: [s1, s2] });
    Object.assign(c, { phone: '0091 98765 43210', siteIds: [s3] });
    Object.assign(d, { phone: '555-55', siteIds: [s1] });
    Object.assign(e, { phone: '919876543210', siteIds: [s4], sponsor: crew });
    Object.assign(f, { phone: '9876543210', siteIds: [s5], sponsor: crew });
    const olds = [a, b, c, d, e, f];
    const s = store();
    if (s instanceof SqliteStore) {
      for (const w of olds) {
        expect(
          await sut().createWorker(
            { ...worker(w.siteIds), ...w, phone: worker([]).phone },
            code(w.id),
          ),
        ).toBeUndefined();
        s.db.prepare('UPDATE workers SET phone = ? WHERE id = ?').run(w.phone, w.id);
      }
      // the claims as version 5 keyed them, and the store before version 6
      const typed = "replace(replace(w.phone, ' ', ''), '-', '')";
      s.db.exec(`DELETE FROM worker_phone_claims;
        INSERT OR IGNORE INTO worker_phone_claims (claim, worker_id)
          SELECT claim, worker_id FROM (
            SELECT 'site:' || s.value || '|' || ${typed} AS claim, w.id AS worker_id
              FROM workers w, json_each(w.site_ids) s
            UNION ALL
            SELECT 'thekedar:' || json_extract(w.sponsor, '$.thekedarId') || '|' || ${typed}, w.id
              FROM workers w WHERE json_extract(w.sponsor, '$.kind') = 'thekedar')
          ORDER BY worker_id;
        DELETE FROM schema_migrations WHERE scope = 'device-trust.workforce' AND version = 6;`);
    } else {
      await insertLegacyMongoWorkers(s as MongoStore, olds, 'e164', (w) =>
        w.phone.replace(/[ -]/g, ''),
      );
    }
    const warn = jest.spyOn(Logger.prototype, 'warn');
    const booted = await compileAdapter<WorkforceRepository>(s, workforceAdapters);
    try {
      const warned = warn.mock.calls.map(([fields, message]) => ({ fields, message }));
      // named by id, never by number
      expect(JSON.stringify(warned)).not.toMatch(/98765|55555|43210/);
      expect(warned).toContainEqual({
        fields: { workerIds: [b.id, f.id], more: false },
        message: expect.stringContaining('share a phone with an older worker'),
      });
      expect(warned).toContainEqual({
        fields: { workerIds: [d.id], more: false },
        message: expect.stringContaining('not a possible one: claimed as typed'),
      });
      const repo = booted.adapter;
      // every worker kept, its number as it was typed
      for (const w of olds) expect(await repo.findWorkerById(w.id)).toEqual(w);
      const holderOf = async (siteIds: string[], phone = '+919876543210', sponsor = a.sponsor) => {
        const again = { ...worker(siteIds), phone, sponsor };
        return ((await repo.createWorker(again, code(again.id))) as PhoneTaken).workerId;
      };
      expect(await holderOf([s1])).toBe(a.id);
      expect(await holderOf([s2])).toBe(b.id);
      expect(await holderOf([s3])).toBe(c.id);
      expect(await holderOf([s4])).toBe(e.id);
      expect(await holderOf([s5])).toBe(f.id);
      expect(await holderOf([newId()], '+919876543210', crew)).toBe(e.id);
      expect(await holderOf([s1], '55555')).toBe(d.id);
      // given a number of its own, the later worker holds its claims
      await repo.updateWorker(b.id, { phone: '+917000055555' }, audit());
      expect(await holderOf([s1], '+917000055555')).toBe(b.id);
    } finally {
      await booted.close();
    }
    // keyed once: a boot after it does not warn of the number again (SQLite names the
    // duplicate left at every boot; MongoDB, of a duplicate that holds a claim, only once)
    warn.mockClear();
    const again = await compileAdapter<WorkforceRepository>(s, workforceAdapters);
    try {
      const named = warn.mock.calls.map(
        ([fields]) => (fields as { workerIds: string[] }).workerIds,
      );
      expect(named.flat().filter((id) => id !== f.id)).toEqual([]);
      const late = { ...worker([s1]), phone: '+919876543210' };
      expect(await again.adapter.createWorker(late, code(late.id))).toMatchObject({
        workerId: a.id,
      });
    } finally {
      warn.mockRestore();
      await again.close();
    }
  });

  it('should give the oldest of old duplicates the phone when two replicas boot together', async () => {
    const s = store();
    if (!(s instanceof MongoStore)) return; // SQLite: one migration, in a transaction
    const site = newId();
    // 40 workers stored before claims, two by two with one phone
    const olds = Array.from({ length: 40 }, () => worker([site])).sort((x, y) =>
      x.id.localeCompare(y.id),
    );
    for (let i = 1; i < olds.length; i += 2) olds[i].phone = olds[i - 1].phone;
    await insertLegacyMongoWorkers(s, olds, 'claims');
    const booted = await Promise.all([
      compileAdapter<WorkforceRepository>(s, workforceAdapters),
      compileAdapter<WorkforceRepository>(s, workforceAdapters),
    ]);
    try {
      for (let i = 0; i < olds.length; i += 2) {
        const again = { ...worker([site]), phone: olds[i].phone };
        expect(await booted[0].adapter.createWorker(again, code(again.id))).toMatchObject({
          workerId: olds[i].id,
        });
      }
    } finally {
      await Promise.all(booted.map((b) => b.close()));
    }
  });

  it('should find the workers among a list of ids, and only those', async () => {
    const site = newId();
    const a = { ...worker([site]), name: 'A' };
    const b = { ...worker([site]), name: 'B', phone: '+919810000002' };
    for (const w of [a, b]) await sut().createWorker(w, code(w.id));
    const found = await sut().findWorkersByIds([b.id, newId(), a.id, b.id]);
    expect(found.sort((x, y) => x.name.localeCompare(y.name))).toEqual([a, b]);
    expect(await sut().findWorkersByIds([])).toEqual([]);
    expect(await sut().findWorkersByIds([newId()])).toEqual([]);
  });

  it('should let exactly one of many concurrent claims spend a code', async () => {
    const w = worker([newId()]);
    const c = code(w.id);
    await sut().createWorker(w, c);
    const at = new Date('2026-01-02T00:00:00Z');
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        sut().markEnrollmentUsed(c.codeHash, `dev-${i}`, at, 'tag-spent'),
      ),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
    const stored = await sut().findEnrollment(c.codeHash);
    expect(stored?.usedAt).toEqual(at);
    expect(stored?.usedByDeviceId).toBe(`dev-${results.indexOf(true)}`);
  });

  it('should give a spent code back to a failed registration, unless a later code came', async () => {
    const w = worker([newId()]);
    const c = code(w.id);
    await sut().createWorker(w, c);
    const at = new Date('2026-01-02T00:00:00Z');
    expect(await sut().markEnrollmentUsed(c.codeHash, 'dev-1', at, 'tag-spent')).toBe(true);
    expect(await sut().releaseEnrollment(c.codeHash, 'dev-2', 'tag-unused')).toBe(false);
    expect(await sut().releaseEnrollment(c.codeHash, 'dev-1', 'tag-unused')).toBe(true);
    expect(await sut().findEnrollment(c.codeHash)).toEqual({ ...c, tag: 'tag-unused' });
    expect(await sut().markEnrollmentUsed(c.codeHash, 'dev-3', at, 'tag-spent')).toBe(true);
    // replaced since it was spent: the later code stands, the spent one stays spent
    const next = code(w.id);
    expect(await sut().replaceEnrollment(next)).toBe(true);
    expect(await sut().releaseEnrollment(c.codeHash, 'dev-3', 'tag-unused')).toBe(false);
    expect(await sut().markEnrollmentUsed(c.codeHash, 'dev-4', at, 'tag-spent')).toBe(false);
    expect(await sut().markEnrollmentUsed(next.codeHash, 'dev-4', at, 'tag-spent')).toBe(true);
  });

  it('should refuse an expired or unknown code', async () => {
    const w = worker([newId()]);
    const c = code(w.id, newId(), new Date('2026-01-01T01:00:00Z'));
    await sut().createWorker(w, c);
    expect(
      await sut().markEnrollmentUsed(
        c.codeHash,
        'd',
        new Date('2026-01-01T02:00:00Z'),
        'tag-spent',
      ),
    ).toBe(false);
    expect(await sut().markEnrollmentUsed(newId(), 'd', t0, 'tag-spent')).toBe(false);
  });

  it('should store neither a person nor its code when the code cannot be stored', async () => {
    // a code hash already taken makes the second half of the write fail
    const first = worker([newId()]);
    const taken = code(first.id);
    await sut().createWorker(first, taken);
    const second = worker([newId()]);
    await expect(sut().createWorker(second, code(second.id, taken.codeHash))).rejects.toBeDefined();
    expect(await sut().findWorkerById(second.id)).toBeUndefined();
    expect(await sut().findEnrollment(taken.codeHash)).toEqual(taken);

    const thekedar = {
      id: newId(),
      name: 'R',
      phone: '+91981',
      trustScore: 80,
      siteIds: [],
      createdAt: t0,
    };
    const tc = { ...code(thekedar.id), personKind: 'thekedar' as const };
    await sut().createThekedar(thekedar, tc);
    const other = { ...thekedar, id: newId() };
    await expect(sut().createThekedar(other, { ...tc, personId: other.id })).rejects.toBeDefined();
    expect(await sut().findThekedarById(other.id)).toBeUndefined();
    expect(await sut().findEnrollment(tc.codeHash)).toEqual(tc);
  });

  it('should keep a site time zone, and list site ids in pages', async () => {
    const ids = [newId(), newId(), newId()].sort();
    for (const [i, id] of ids.entries()) {
      await sut().createSite({
        id,
        name: `S${i}`,
        geo: { lat: 1, lng: 2 },
        radiusM: 100,
        ...(i === 0 ? {} : { timeZone: 'America/New_York' }),
        createdAt: t0,
      });
    }
    const [a, b] = await sut().findSitesByIds(ids.slice(0, 2));
    expect([a, b].find((s) => s.id === ids[1])?.timeZone).toBe('America/New_York');
    expect([a, b].find((s) => s.id === ids[0])?.timeZone).toBeUndefined();
    expect(await sut().listSiteIds('', 2)).toEqual(ids.slice(0, 2));
    expect(await sut().listSiteIds(ids[1], 2)).toEqual([ids[2]]);
  });

  it('should list the workers a thekedar onboarded, and only those', async () => {
    const thekedarId = newId();
    const mine = [
      { ...worker([newId()]), sponsor: { kind: 'thekedar' as const, thekedarId } },
      { ...worker([newId()]), sponsor: { kind: 'thekedar' as const, thekedarId } },
    ];
    const other = {
      ...worker([newId()]),
      sponsor: { kind: 'thekedar' as const, thekedarId: newId() },
    };
    for (const w of [...mine, other, worker([newId()])]) await sut().createWorker(w, code(w.id));
    expect(await sut().listWorkerIdsOfThekedar(thekedarId)).toEqual(mine.map((w) => w.id).sort());
    expect(await sut().listWorkerIdsOfThekedar(newId())).toEqual([]);
  });

  it("should replace a worker's unused code with a new one, keeping the worker as it was", async () => {
    const w = worker([newId()]);
    const first = code(w.id);
    await sut().createWorker(w, first);
    const second = code(w.id);
    expect(await sut().replaceEnrollment(second)).toBe(true);
    const third = code(w.id);
    expect(await sut().replaceEnrollment(third)).toBe(true);
    const at = new Date('2026-01-02T00:00:00Z');
    for (const voided of [first, second]) {
      expect(await sut().findEnrollment(voided.codeHash)).toBeUndefined();
      expect(await sut().markEnrollmentUsed(voided.codeHash, 'd', at, 'tag-spent')).toBe(false);
    }
    expect(await sut().findEnrollment(third.codeHash)).toEqual(third);
    expect(await sut().markEnrollmentUsed(third.codeHash, 'd', at, 'tag-spent')).toBe(true);
    expect(await sut().findWorkerById(w.id)).toEqual(w);
  });

  it("should keep a worker's spent codes (which device each registered) through new codes, dropping only unused ones", async () => {
    const w = worker([newId()]);
    const first = code(w.id);
    await sut().createWorker(w, first);
    const usedAt = new Date('2026-01-02T00:00:00Z');
    expect(await sut().markEnrollmentUsed(first.codeHash, 'device-1', usedAt, 'tag-spent')).toBe(
      true,
    );
    const second = code(w.id);
    expect(await sut().replaceEnrollment(second)).toBe(true);
    const third = code(w.id);
    expect(await sut().replaceEnrollment(third)).toBe(true);
    expect(await sut().markEnrollmentUsed(third.codeHash, 'device-3', usedAt, 'tag-spent')).toBe(
      true,
    );
    const fourth = code(w.id);
    expect(await sut().replaceEnrollment(fourth)).toBe(true);

    expect(await sut().findEnrollment(first.codeHash)).toEqual({
      ...first,
      usedAt,
      usedByDeviceId: 'device-1',
      tag: 'tag-spent',
    });
    expect(await sut().findEnrollment(third.codeHash)).toEqual({
      ...third,
      usedAt,
      usedByDeviceId: 'device-3',
      tag: 'tag-spent',
    });
    expect(await sut().findEnrollment(second.codeHash)).toBeUndefined();
    expect(await sut().findEnrollment(fourth.codeHash)).toEqual(fourth);
    // a kept code is spent: it registers nothing again
    const later = new Date('2026-01-03T00:00:00Z');
    expect(await sut().markEnrollmentUsed(first.codeHash, 'device-9', later, 'tag-spent')).toBe(
      false,
    );
    expect(await sut().markEnrollmentUsed(fourth.codeHash, 'device-4', later, 'tag-spent')).toBe(
      true,
    );
    expect(await sut().findEnrollment(first.codeHash)).toMatchObject({
      usedByDeviceId: 'device-1',
      tag: 'tag-spent',
    });
    expect(await sut().findWorkerById(w.id)).toEqual(w);
  });

  it("should replace a thekedar's unused code, keep its spent ones, and leave its workers' codes alone", async () => {
    const thekedar = {
      id: newId(),
      name: 'R',
      phone: '+919810000000',
      trustScore: 80,
      siteIds: [],
      createdAt: t0,
    };
    const tcode = (): EnrollmentCode => ({ ...code(thekedar.id), personKind: 'thekedar' });
    const first = tcode();
    await sut().createThekedar(thekedar, first);
    const w = worker([newId()]);
    const wc = code(w.id);
    await sut().createWorker(w, wc);
    const usedAt = new Date('2026-01-02T00:00:00Z');
    expect(await sut().markEnrollmentUsed(first.codeHash, 'device-1', usedAt, 'tag-spent')).toBe(
      true,
    );
    const second = tcode();
    expect(await sut().replaceEnrollment(second)).toBe(true);
    const third = tcode();
    expect(await sut().replaceEnrollment(third)).toBe(true);

    expect(await sut().findEnrollment(first.codeHash)).toEqual({
      ...first,
      usedAt,
      usedByDeviceId: 'device-1',
      tag: 'tag-spent',
    });
    expect(await sut().findEnrollment(second.codeHash)).toBeUndefined();
    expect(await sut().markEnrollmentUsed(second.codeHash, 'device-2', usedAt, 'tag-spent')).toBe(
      false,
    );
    expect(await sut().markEnrollmentUsed(first.codeHash, 'device-2', usedAt, 'tag-spent')).toBe(
      false,
    );
    expect(await sut().markEnrollmentUsed(third.codeHash, 'device-3', usedAt, 'tag-spent')).toBe(
      true,
    );
    expect(await sut().findEnrollment(wc.codeHash)).toEqual(wc);
    expect(await sut().findThekedarById(thekedar.id)).toEqual(thekedar);
    // a kind names its own people: a worker's id is no thekedar, a thekedar's no worker
    expect(await sut().replaceEnrollment({ ...tcode(), personId: w.id })).toBe(false);
    expect(await sut().replaceEnrollment(code(thekedar.id))).toBe(false);
    expect(await sut().findEnrollment(wc.codeHash)).toEqual(wc);
  });

  it('should store no code for an unknown worker', async () => {
    const orphan = code(newId());
    expect(await sut().replaceEnrollment(orphan)).toBe(false);
    expect(await sut().findEnrollment(orphan.codeHash)).toBeUndefined();
  });

  it("should change a worker's name and phone, only the fields given", async () => {
    const w = worker([newId()]);
    await sut().createWorker(w, code(w.id));
    expect(await sut().updateWorker(w.id, { phone: '+91 90000 11111' }, audit())).toEqual({
      ...w,
      phone: '+91 90000 11111',
    });
    const renamed = { ...w, name: 'Sita Kumari', phone: '+91 90000 11111' };
    expect(await sut().updateWorker(w.id, { name: 'Sita Kumari' }, audit())).toEqual(renamed);
    expect(await sut().findWorkerById(w.id)).toEqual(renamed);
    expect(await sut().updateWorker(newId(), { name: 'X' }, audit())).toBeUndefined();
  });

  it("should change a site's name and geofence, only the fields given, keeping its time zone", async () => {
    const site = {
      id: newId(),
      name: 'A',
      geo: { lat: 28.6, lng: 77.2 },
      radiusM: 150,
      timeZone: 'Asia/Kolkata',
      createdAt: t0,
    };
    await sut().createSite(site);
    const moved = { ...site, geo: { lat: 19.07, lng: 72.87 }, radiusM: 300 };
    expect(await sut().updateSite(site.id, { geo: moved.geo, radiusM: 300 })).toEqual(moved);
    expect(await sut().updateSite(site.id, { name: 'B' })).toEqual({ ...moved, name: 'B' });
    expect(await sut().findSitesByIds([site.id])).toEqual([{ ...moved, name: 'B' }]);
    expect(await sut().updateSite(newId(), { name: 'X' })).toBeUndefined();
  });

  describe("a worker's sites and status", () => {
    /** Another worker with `w`'s phone at `siteIds`: what the store answers its creation. */
    async function samePhone(w: Worker, siteIds: string[]) {
      const other = { ...worker(siteIds), phone: w.phone };
      return { other, taken: await sut().createWorker(other, code(other.id)) };
    }

    it("should record a change of the worker's phone (where its pay goes) as an event, both numbers masked", async () => {
      const [a, b] = [newId(), newId()];
      const w = worker([a]);
      await sut().createWorker(w, code(w.id));
      // a rename, and the same number again: nothing to record
      await sut().updateWorker(w.id, { name: 'Sita K', phone: w.phone }, audit());
      expect(await sut().listWorkerEvents(w.id)).toEqual([]);
      const next = '+919810099876';
      const changed = await sut().updateWorker(w.id, { phone: next, siteIds: [b] }, audit());
      expect(changed).toMatchObject({ phone: next, siteIds: [b] });
      const masked = (phone: string) => `+${'*'.repeat(8)}${phone.slice(-4)}`;
      expect(await sut().listWorkerEvents(w.id)).toEqual([
        expect.objectContaining({ action: 'sites_changed', siteIds: [b], previousSiteIds: [a] }),
        {
          id: expect.any(String),
          workerId: w.id,
          action: 'phone_changed',
          actor: 'admin:000000000000',
          phone: masked(next),
          previousPhone: masked(w.phone),
          at: t0,
        },
      ]);
      // never the numbers themselves
      expect(JSON.stringify(await sut().listWorkerEvents(w.id))).not.toMatch(/9810099876|981000/);
    });

    it('should claim the phone at a site added and release it at a site removed, with one event', async () => {
      const [a, b] = [newId(), newId()];
      const w = worker([a]);
      await sut().createWorker(w, code(w.id));
      const moved = await sut().updateWorker(w.id, { siteIds: [b] }, audit());
      expect(moved).toEqual({ ...w, siteIds: [b] });
      expect(await sut().findWorkerById(w.id)).toEqual({ ...w, siteIds: [b] });
      // the phone is free at A now, and held at B
      expect((await samePhone(w, [a])).taken).toBeUndefined();
      expect((await samePhone(w, [b])).taken).toMatchObject({ workerId: w.id });
      expect(await sut().listWorkers({ limit: 10, siteId: b })).toContainEqual(moved);
      expect(await sut().listWorkers({ limit: 10, siteId: a })).not.toContainEqual(
        expect.objectContaining({ id: w.id }),
      );
      const events = await sut().listWorkerEvents(w.id);
      expect(events).toEqual([
        {
          id: expect.any(String),
          workerId: w.id,
          action: 'sites_changed',
          actor: 'admin:000000000000',
          siteIds: [b],
          previousSiteIds: [a],
          at: t0,
        },
      ]);
      // the same sites again (another order): nothing to record
      await sut().updateWorker(w.id, { siteIds: [b] }, audit());
      expect(await sut().listWorkerEvents(w.id)).toHaveLength(1);
      // the next change records the sites the last one left (A is another worker's phone now)
      const c = newId();
      expect(await sut().updateWorker(w.id, { siteIds: [b, c] }, audit())).toMatchObject({
        siteIds: [b, c],
      });
      expect((await sut().listWorkerEvents(w.id)).map((e) => e.previousSiteIds)).toEqual([
        [a],
        [b],
      ]);
    });

    it('should read a site change recorded before the sites before it were kept without them', async () => {
      const [a, b] = [newId(), newId()];
      const w = worker([a]);
      await sut().createWorker(w, code(w.id));
      const id = newId();
      const s = store();
      // as an older build wrote it: the sites after the change only
      if (s instanceof MongoStore) {
        await s.connection.collection('workers').updateOne(
          { _id: w.id as never },
          {
            $push: {
              events: { id, action: 'sites_changed', actor: 'x', siteIds: [b], at: t0 },
            } as never,
          },
        );
      } else {
        (s as SqliteStore).db
          .prepare(
            `INSERT INTO worker_events (id, worker_id, action, actor, reason, site_ids, at)
             VALUES (?, ?, 'sites_changed', 'x', NULL, ?, ?)`,
          )
          .run(id, w.id, JSON.stringify([b]), t0.toISOString());
      }
      expect(await sut().listWorkerEvents(w.id)).toEqual([
        { id, workerId: w.id, action: 'sites_changed', actor: 'x', siteIds: [b], at: t0 },
      ]);
    });

    it('should change nothing when another worker has the phone at a site added', async () => {
      const [a, b] = [newId(), newId()];
      const w = worker([a]);
      await sut().createWorker(w, code(w.id));
      const { other } = await samePhone(w, [b]);
      const refused = await sut().updateWorker(w.id, { siteIds: [b], name: 'Moved' }, audit());
      expect(refused).toBeInstanceOf(PhoneTaken);
      expect(refused).toMatchObject({ workerId: other.id, claim: `site:${b}|${w.phone}` });
      expect(await sut().findWorkerById(w.id)).toEqual(w);
      // it still holds A, and no event was recorded
      expect((await samePhone(w, [a])).taken).toMatchObject({ workerId: w.id });
      expect(await sut().listWorkerEvents(w.id)).toEqual([]);
    });

    it("should release a deactivated worker's claims and take them again on reactivation, each an event", async () => {
      const site = newId();
      const w = worker([site]);
      await sut().createWorker(w, code(w.id));
      const at = new Date('2026-01-05T00:00:00.000Z');
      const off = await sut().setWorkerStatus(w.id, 'inactive', {
        id: newId(),
        actor: 'admin:1',
        reason: 'left',
        at,
      });
      const inactive = { ...w, status: 'inactive', statusChangedAt: at };
      expect(off).toEqual(inactive);
      expect(await sut().findWorkerById(w.id)).toEqual(inactive);
      // again: as it is, no second event
      expect(await sut().setWorkerStatus(w.id, 'inactive', audit('again'))).toEqual(inactive);
      expect(await sut().listWorkers({ limit: 10, status: 'inactive' })).toContainEqual(inactive);
      expect(await sut().listWorkers({ limit: 10, status: 'active' })).not.toContainEqual(
        expect.objectContaining({ id: w.id }),
      );
      expect(await sut().listWorkers({ limit: 10, siteId: site, status: 'inactive' })).toEqual([
        inactive,
      ]);

      // its number is free at its site: a new worker takes it; reactivating is then refused
      const { other, taken } = await samePhone(w, [site]);
      expect(taken).toBeUndefined();
      const refused = await sut().setWorkerStatus(w.id, 'active', audit('back'));
      expect(refused).toMatchObject({ workerId: other.id, claim: `site:${site}|${w.phone}` });
      expect(await sut().findWorkerById(w.id)).toEqual(inactive);

      // an inactive worker's phone changes its record only; reactivated, it claims the new one
      const changed = await sut().updateWorker(w.id, { phone: '+919999900001' }, audit());
      expect(changed).toEqual({ ...inactive, phone: '+919999900001' });
      const back = await sut().setWorkerStatus(w.id, 'active', audit('back'));
      expect(back).toEqual({ ...w, phone: '+919999900001', statusChangedAt: t0 });
      expect((await samePhone({ ...w, phone: '+919999900001' }, [site])).taken).toMatchObject({
        workerId: w.id,
      });
      expect((await sut().listWorkerEvents(w.id)).map((e) => [e.action, e.reason])).toEqual([
        ['deactivated', 'left'],
        // the number changed while inactive: where its pay goes, recorded all the same
        ['phone_changed', undefined],
        ['reactivated', 'back'],
      ]);
      expect(await sut().setWorkerStatus(newId(), 'inactive', audit())).toBeUndefined();
    });

    it("should release a thekedar's claim of a deactivated worker too", async () => {
      const thekedarId = newId();
      const w = { ...worker([newId()]), sponsor: { kind: 'thekedar', thekedarId } } as Worker;
      await sut().createWorker(w, code(w.id));
      const crewmate = { ...worker([newId()]), sponsor: w.sponsor, phone: w.phone };
      expect(await sut().createWorker(crewmate, code(crewmate.id))).toMatchObject({
        claim: `thekedar:${thekedarId}|${w.phone}`,
      });
      await sut().setWorkerStatus(w.id, 'inactive', audit('left'));
      expect(await sut().createWorker(crewmate, code(crewmate.id))).toBeUndefined();
    });

    it('should boot on a store holding inactive workers without claiming their phones', async () => {
      const site = newId();
      const w = worker([site]);
      await sut().createWorker(w, code(w.id));
      await sut().setWorkerStatus(w.id, 'inactive', audit('left'));
      const warn = jest.spyOn(Logger.prototype, 'warn');
      const booted = await compileAdapter<WorkforceRepository>(store(), workforceAdapters);
      try {
        const again = { ...worker([site]), phone: w.phone };
        expect(await booted.adapter.createWorker(again, code(again.id))).toBeUndefined();
        const named = warn.mock.calls.flatMap(
          ([fields]) => (fields as { workerIds?: string[] }).workerIds ?? [],
        );
        expect(named).not.toContain(w.id);
      } finally {
        warn.mockRestore();
        await booted.close();
      }
    });
  });
});

describe('SQLite workforce migration 9 (the sites before a site change)', () => {
  it('should keep the site changes of a file from before it, without the sites before them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mdai-previous-sites-'));
    try {
      const old = new SqliteStore(join(dir, 'before.sqlite'));
      // version 6 keys claims with a function the repository defines on its connection
      old.db.function(PHONE_KEY_FUNCTION, (phone, _workerId) => String(phone));
      old.migrate(
        'device-trust.workforce',
        WORKFORCE_SQLITE_MIGRATIONS.filter((m) => m.version <= 8),
      );
      const [workerId, id, b] = [newId(), newId(), newId()];
      old.db
        .prepare(
          `INSERT INTO worker_events (id, worker_id, action, actor, reason, site_ids, at)
           VALUES (?, ?, 'sites_changed', 'x', NULL, ?, ?)`,
        )
        .run(id, workerId, JSON.stringify([b]), t0.toISOString());
      await old.close();
      const store = new SqliteStore(join(dir, 'before.sqlite'));
      const booted = await compileAdapter<WorkforceRepository>(store, workforceAdapters);
      try {
        expect(await booted.adapter.listWorkerEvents(workerId)).toEqual([
          { id, workerId, action: 'sites_changed', actor: 'x', siteIds: [b], at: t0 },
        ]);
      } finally {
        await booted.close();
        await store.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
