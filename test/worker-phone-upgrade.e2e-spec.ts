import { rmSync } from 'node:fs';
import { MongoStore, SqliteStore, Store } from '@app/persistence';
import { http, startTestApp, TestApp } from './support/test-app';
import { createSite } from './support/timesheet-client';

/** One Indian mobile number, as people write it. */
const SPELLINGS = [
  '+91 98765 43210',
  '919876543210',
  '09876543210',
  '0091 98765 43210',
  '9876543210',
];

/**
 * A store whose workers hold their numbers as typed, claimed as typed (spaces and dashes aside),
 * as every store did before: the boot keys their claims in E.164, the older of two workers
 * whose numbers turn out to be one keeping the claim.
 */
describe('worker phones of a store from before E.164 (e2e)', () => {
  it('should key old claims in E.164 at boot: the older keeps the number, the later kept without it, both named by id only', async () => {
    const first = await startTestApp({ TRUST_AUTO_BLOCK_FLOOR: '0' });
    const post = (t: TestApp, path: string, body: unknown) =>
      http(t.baseUrl, 'POST', path, { key: t.keys.admin, body });
    const siteA = (await createSite(first.baseUrl, first.keys.admin)).siteId;
    const siteB = (await createSite(first.baseUrl, first.keys.admin)).siteId;
    // created in this order (ids ascending), with numbers of their own for now
    const typed = {
      older: { phone: '+91 98765 43210', siteIds: [siteA] },
      later: { phone: '09876543210', siteIds: [siteA, siteB] },
      odd: { phone: '555-55', siteIds: [siteA] },
    };
    const ids: Record<string, string> = {};
    let n = 0;
    for (const [name, w] of Object.entries(typed)) {
      n += 1;
      const res = await post(first, '/api/v5/workers', {
        name,
        phone: `+91 90000 1000${n}`,
        siteIds: w.siteIds,
      });
      expect(res.status).toBe(201);
      ids[name] = res.body.workerId;
    }
    // behind the app's back: the numbers as typed, claimed as they were before E.164
    const store = first.app.get(Store);
    if (store instanceof MongoStore) {
      const workers = store.connection.collection('workers');
      for (const [name, w] of Object.entries(typed)) {
        const key = w.phone.replace(/[ -]/g, '');
        await workers.updateOne(
          { _id: ids[name] as never },
          {
            $set: { phone: w.phone, phoneClaims: w.siteIds.map((s) => `site:${s}|${key}`) },
            // nor tags then (the next start tags them as legacy: WorkerSeal)
            $unset: { phoneClaimsForm: 1, tag: 1, eventId: 1 },
          },
        );
      }
      await store.connection.collection('worker_seal').deleteMany({});
    } else {
      const db = (store as SqliteStore).db;
      db.exec('DELETE FROM worker_phone_claims');
      for (const [name, w] of Object.entries(typed)) {
        db.prepare('UPDATE workers SET phone = ? WHERE id = ?').run(w.phone, ids[name]);
        for (const s of w.siteIds) {
          db.prepare('INSERT INTO worker_phone_claims (claim, worker_id) VALUES (?, ?)').run(
            `site:${s}|${w.phone.replace(/[ -]/g, '')}`,
            ids[name],
          );
        }
      }
      db.exec(
        "DELETE FROM schema_migrations WHERE scope = 'device-trust.workforce' AND version = 6",
      );
      // nor tags then (the next start tags them as legacy: WorkerSeal)
      db.exec(`UPDATE workers SET tag = NULL, event_id = NULL;
        UPDATE worker_seal SET legacy_sealed_at = NULL;`);
    }
    await first.close({ keepData: true });

    const t = await startTestApp({ DATA_DIR: first.dataDir, TRUST_AUTO_BLOCK_FLOOR: '0' });
    try {
      // the lines of this boot
      const logs = t.logs();
      const warnings = logs
        .split('\n')
        .filter((l) => l.includes('"workerIds"'))
        .map((l) => JSON.parse(l) as { workerIds: string[]; msg: string });
      expect(warnings).toContainEqual(
        expect.objectContaining({
          workerIds: [ids.later],
          msg: expect.stringContaining('share a phone with an older worker'),
        }),
      );
      expect(warnings).toContainEqual(
        expect.objectContaining({
          workerIds: [ids.odd],
          msg: expect.stringContaining('not a possible one'),
        }),
      );
      expect(logs).not.toMatch(/98765|43210|55555|555-55/);

      // no one deleted, each number as typed
      for (const [name, w] of Object.entries(typed)) {
        const res = await http(t.baseUrl, 'GET', `/api/v5/workers/${ids[name]}`, {
          key: t.keys.admin,
        });
        expect([res.status, res.body.phone]).toEqual([200, w.phone]);
      }
      // the number is the older worker's at site A, the later one's at site B
      const holderOf = async (phone: string, siteId: string) => {
        const res = await post(t, '/api/v5/workers', { name: 'New', phone, siteIds: [siteId] });
        expect([res.status, res.body.code]).toEqual([409, 'worker_exists']);
        return (res.body.errors as { field: string; message: string }[]).find(
          (e) => e.field === 'workerId',
        )?.message;
      };
      for (const phone of SPELLINGS) expect(await holderOf(phone, siteA)).toBe(ids.older);
      expect(await holderOf('9876543210', siteB)).toBe(ids.later);
      // given a number of its own, the later worker holds it at both sites
      const changed = await http(t.baseUrl, 'PATCH', `/api/v5/workers/${ids.later}`, {
        key: t.keys.admin,
        body: { phone: '07000055555' },
      });
      expect([changed.status, changed.body.phone]).toEqual([200, '+917000055555']);
      expect(await holderOf('+91 70000 55555', siteA)).toBe(ids.later);
    } finally {
      // on a DATA_DIR of its own: its data is removed here
      const opened = t.app.get(Store);
      if (opened instanceof MongoStore) await opened.connection.dropDatabase();
      await t.close();
      rmSync(first.dataDir, { recursive: true, force: true });
    }
  });
});
