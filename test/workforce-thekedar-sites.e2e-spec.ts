import { parse } from 'csv-parse/sync';
import { rmSync } from 'node:fs';
import { ManualClock } from '@app/common';
import { MongoStore, SqliteStore, Store } from '@app/persistence';
import { http, startTestApp, TestApp } from './support/test-app';
import {
  createSite,
  phoneAt,
  punch,
  signedBy,
  sync,
  ThekedarDevice,
  thekedarWithDevice,
} from './support/timesheet-client';
import { nextPhoneNumber, registerPhone } from './support/worker-client';

/** A site id no site has (ids are 24-hex, sequential: a guess looks like this). */
const UNKNOWN_SITE = 'ffffffffffffffffffffffff';
const PERIOD = 'from=2026-03-01&to=2026-03-10';

/**
 * A thekedar works on the sites an admin names: its signed requests create workers and read
 * timesheets there only. Any other site, and a site that does not exist, answer the same 403
 * `site_not_allowed` (a guessed id tells nothing), with a fraud event and nothing stored.
 */
describe('thekedar sites (e2e)', () => {
  let t: TestApp;
  const clock = new ManualClock('2026-03-01T00:00:00.000Z');
  let siteA: string; // the thekedar's
  let siteB: string; // another contractor's site
  let k: ThekedarDevice;
  let signatures = 0;

  /** A thekedar-signed request's headers: each its own timestamp (a signature is single use). */
  const signed = (value: unknown, by = k) => {
    signatures += 1;
    const at = new Date(clock.now().getTime() - 200_000 + signatures * 1000).toISOString();
    return signedBy(by, value, at);
  };
  const onboard = (body: { name: string; phone: string; siteIds: string[] }, by = k) =>
    http(t.baseUrl, 'POST', '/api/v5/workers', { body, headers: signed(body, by) });
  const signedGet = (path: string, by = k) =>
    http(t.baseUrl, 'GET', path, { headers: signed({ method: 'GET', path }, by) });
  const admin = (method: string, path: string, body?: unknown) =>
    http(t.baseUrl, method, path, { key: t.keys.admin, body });
  const sitesOf = async (thekedarId: string) =>
    (await admin('GET', `/api/v5/thekedars/${thekedarId}`)).body.siteIds as string[];

  beforeAll(async () => {
    t = await startTestApp(
      { SYNC_MAX_OFFLINE_AGE_HOURS: String(24 * 30), TRUST_AUTO_BLOCK_FLOOR: '0' },
      { clock },
    );
    siteA = (await createSite(t.baseUrl, t.keys.admin, 'Asia/Kolkata')).siteId;
    siteB = (await createSite(t.baseUrl, t.keys.admin, 'Asia/Kolkata')).siteId;
    k = await thekedarWithDevice(t.baseUrl, t.keys.admin, [siteA]);
  });
  afterAll(async () => t.close());

  describe('worker creation', () => {
    it("should create a worker at the thekedar's site, inheriting its trust", async () => {
      const res = await onboard({ name: 'Sita', phone: nextPhoneNumber(), siteIds: [siteA] });
      expect(res.status).toBe(201);
      expect(res.body.trustScore).toBe(80);
    });

    it('should refuse another site and an unknown one alike, store nothing and leave no phone claim', async () => {
      const phone = nextPhoneNumber();
      const before = (await admin('GET', '/api/v5/workers?limit=500')).body.length;
      const other = await onboard({ name: 'Ravi', phone, siteIds: [siteB] });
      const unknown = await onboard({ name: 'Ravi', phone, siteIds: [UNKNOWN_SITE] });
      const mixed = await onboard({ name: 'Ravi', phone, siteIds: [siteA, siteB] });
      for (const [res, id] of [
        [other, siteB],
        [unknown, UNKNOWN_SITE],
        [mixed, siteB],
      ] as const) {
        expect(res.status).toBe(403);
        expect(res.body).toMatchObject({
          statusCode: 403,
          code: 'site_not_allowed',
          message: 'This thekedar does not work on the site: an admin names its sites',
          errors: [{ field: 'siteIds', message: `not a site of this thekedar: ${id}` }],
        });
      }
      // an existing site and a guessed one: the same answer but for the id the caller sent
      const shape = (body: any) => JSON.stringify({ ...body, errors: [], correlationId: '' });
      expect(shape(other.body)).toBe(shape(unknown.body));
      // nothing stored: no worker, and the phone is free at B and among the thekedar's workers
      expect((await admin('GET', '/api/v5/workers?limit=500')).body).toHaveLength(before);
      expect((await admin('GET', `/api/v5/workers?siteId=${siteB}`)).body).toEqual([]);
      const there = await admin('POST', '/api/v5/workers', { name: 'R', phone, siteIds: [siteB] });
      expect(there.status).toBe(201);
      expect((await onboard({ name: 'Ravi', phone, siteIds: [siteA] })).status).toBe(201);
    });

    it("should record each refusal as a site_not_allowed fraud event on the thekedar's device", async () => {
      const res = await admin(
        'GET',
        `/api/v5/fraud/events?type=site_not_allowed&deviceId=${k.deviceId}&limit=100`,
      );
      expect(res.status).toBe(200);
      const details = (res.body as { siteId?: string; detail: string }[]).map((e) => [
        e.siteId,
        e.detail,
      ]);
      expect(details).toContainEqual([
        siteB,
        expect.stringContaining(`worker creation refused: site ${siteB} is not a site of`),
      ]);
      expect(details).toContainEqual([UNKNOWN_SITE, expect.stringContaining(UNKNOWN_SITE)]);
    });
  });

  describe('timesheets, CSV and payroll', () => {
    let crewA: string;
    let strangerA: string;
    let crewB: string;

    beforeAll(async () => {
      // the thekedar's worker at A, an admin's worker at A, and (once B is the thekedar's for a
      // moment) the thekedar's worker at B; each works 2 March
      const own = async (siteId: string) => {
        const body = { name: 'Crew', phone: nextPhoneNumber('+91 98762'), siteIds: [siteId] };
        const res = await onboard(body);
        expect(res.status).toBe(201);
        return registerPhone(t.baseUrl, res.body, siteId, `thekscope-${res.body.workerId}`);
      };
      const a = await own(siteA);
      expect(
        (await admin('PATCH', `/api/v5/thekedars/${k.thekedarId}`, { siteIds: [siteA, siteB] }))
          .status,
      ).toBe(200);
      const b = await own(siteB);
      expect(
        (await admin('PATCH', `/api/v5/thekedars/${k.thekedarId}`, { siteIds: [siteA] })).status,
      ).toBe(200);
      const stranger = await phoneAt(t.baseUrl, t.keys.admin, siteA);
      clock.set('2026-03-10T06:00:00.000Z');
      for (const phone of [a, b, stranger]) {
        await sync(t.baseUrl, phone, [
          punch(phone, 'check_in', '2026-03-02T03:30:00Z'),
          punch(phone, 'check_out', '2026-03-02T11:30:00Z'),
        ]);
      }
      [crewA, crewB, strangerA] = [a.workerId, b.workerId, stranger.workerId];
    });

    it("should answer the thekedar its own workers' rows at its site, on all three reads", async () => {
      const payroll = await signedGet(`/api/v5/sites/${siteA}/payroll?${PERIOD}`);
      expect(payroll.status).toBe(200);
      expect(payroll.body.workers.map((w: any) => [w.workerId, w.hours])).toEqual([[crewA, 8]]);
      const days = await signedGet(`/api/v5/sites/${siteA}/timesheets?${PERIOD}`);
      expect(days.status).toBe(200);
      expect(days.body.days.map((d: any) => d.workerId)).toEqual([crewA]);
      const csv = await signedGet(`/api/v5/sites/${siteA}/timesheets.csv?${PERIOD}`);
      expect(csv.status).toBe(200);
      const rows = parse<Record<string, string>>(csv.body as string, { columns: true });
      expect(rows.map((r) => r.worker_id)).toEqual([crewA]);
    });

    it('should refuse its reads of another site (its own worker there too) and of an unknown one alike', async () => {
      for (const site of [siteB, UNKNOWN_SITE]) {
        for (const read of ['payroll', 'timesheets', 'timesheets.csv']) {
          const res = await signedGet(`/api/v5/sites/${site}/${read}?${PERIOD}`);
          expect([res.status, res.body.code]).toEqual([403, 'site_not_allowed']);
          expect(res.body.errors).toEqual([
            { field: 'siteId', message: `not a site of this thekedar: ${site}` },
          ]);
        }
      }
      // a malformed id is refused the same way, never echoed
      const odd = await signedGet(`/api/v5/sites/not-a-site/payroll?${PERIOD}`);
      expect([odd.status, odd.body.code]).toEqual([403, 'site_not_allowed']);
      expect(JSON.stringify(odd.body)).not.toContain('not-a-site');
      // a correction at another site is refused before its body is looked at
      const correction = { target: { siteId: siteB, seq: 1 }, action: 'void', reason: 'x' };
      const corrected = await http(t.baseUrl, 'POST', `/api/v5/sites/${siteB}/corrections`, {
        body: correction,
        headers: signed(correction),
      });
      expect([corrected.status, corrected.body.code]).toEqual([403, 'site_not_allowed']);
    });

    it('should still show an admin every worker at every site', async () => {
      const a = await admin('GET', `/api/v5/sites/${siteA}/payroll?${PERIOD}`);
      expect(a.body.workers.map((w: any) => w.workerId).sort()).toEqual([crewA, strangerA].sort());
      const b = await admin('GET', `/api/v5/sites/${siteB}/payroll?${PERIOD}`);
      expect(b.body.workers.map((w: any) => w.workerId)).toEqual([crewB]);
      const unknown = await admin('GET', `/api/v5/sites/${UNKNOWN_SITE}/payroll?${PERIOD}`);
      expect([unknown.status, unknown.body.code]).toEqual([404, 'site_not_found']);
    });

    it("should apply an admin's change of the thekedar's sites from the next request on", async () => {
      const patch = (siteIds: string[]) =>
        admin('PATCH', `/api/v5/thekedars/${k.thekedarId}`, { siteIds });
      const changed = await patch([siteB, siteA]);
      expect(changed.status).toBe(200);
      expect(changed.body).toMatchObject({
        thekedarId: k.thekedarId,
        siteIds: [siteA, siteB].sort(),
      });
      const b = await signedGet(`/api/v5/sites/${siteB}/payroll?${PERIOD}`);
      expect([b.status, b.body.workers?.map((w: any) => w.workerId)]).toEqual([200, [crewB]]);
      const atB = await onboard({ name: 'Meena', phone: nextPhoneNumber(), siteIds: [siteB] });
      expect(atB.status).toBe(201);

      // no site at all: the thekedar onboards and reads nowhere; its workers stay where they are
      expect((await patch([])).body.siteIds).toEqual([]);
      const refused = await onboard({ name: 'Lata', phone: nextPhoneNumber(), siteIds: [siteA] });
      expect([refused.status, refused.body.code]).toEqual([403, 'site_not_allowed']);
      const read = await signedGet(`/api/v5/sites/${siteA}/payroll?${PERIOD}`);
      expect([read.status, read.body.code]).toEqual([403, 'site_not_allowed']);
      expect((await admin('GET', `/api/v5/workers/${crewA}`)).body.siteIds).toEqual([siteA]);

      // an unknown site in a change is 404 and changes nothing; only an admin changes them
      const unknown = await patch([siteA, UNKNOWN_SITE]);
      expect([unknown.status, unknown.body.code]).toEqual([404, 'site_not_found']);
      expect(unknown.body.errors).toEqual([
        { field: 'siteIds', message: `no site ${UNKNOWN_SITE}` },
      ]);
      expect(await sitesOf(k.thekedarId)).toEqual([]);
      const byAuditor = await http(t.baseUrl, 'PATCH', `/api/v5/thekedars/${k.thekedarId}`, {
        key: t.keys.auditor,
        body: { siteIds: [siteA] },
      });
      expect(byAuditor.status).toBe(403);
      const nobody = await admin('PATCH', `/api/v5/thekedars/${UNKNOWN_SITE}`, { siteIds: [] });
      expect([nobody.status, nobody.body.code]).toEqual([404, 'thekedar_not_found']);
      expect((await admin('PATCH', `/api/v5/thekedars/${k.thekedarId}`, {})).status).toBe(400);
      expect((await patch([siteA])).status).toBe(200);
    });
  });

  describe('thekedar creation', () => {
    it('should take the sites at creation, refuse an unknown one, and default to none', async () => {
      const create = (body: object) => admin('POST', '/api/v5/thekedars', body);
      const unknown = await create({
        name: 'X',
        phone: nextPhoneNumber('+91 90003'),
        siteIds: [UNKNOWN_SITE],
      });
      expect([unknown.status, unknown.body.code]).toEqual([404, 'site_not_found']);
      const both = await create({
        name: 'Y',
        phone: nextPhoneNumber('+91 90003'),
        siteIds: [siteB, siteA],
      });
      expect(both.status).toBe(201);
      expect(await sitesOf(both.body.thekedarId)).toEqual([siteA, siteB].sort());
      const none = await create({ name: 'Z', phone: nextPhoneNumber('+91 90003') });
      expect(none.status).toBe(201);
      expect(await sitesOf(none.body.thekedarId)).toEqual([]);
      const listed = (await admin('GET', '/api/v5/thekedars?limit=500')).body as any[];
      expect(listed.find((x) => x.thekedarId === none.body.thekedarId)?.siteIds).toEqual([]);
    });
  });
});

/**
 * A store from before thekedar sites: the boot gives each thekedar the sites of the workers it
 * onboarded (so its deployment works on), logs them for review, and nothing more.
 */
describe('thekedars of a store from before thekedar sites (e2e)', () => {
  it('should give an old thekedar the sites of its workers at boot, so it onboards there and nowhere else', async () => {
    const first = await startTestApp({ TRUST_AUTO_BLOCK_FLOOR: '0' });
    const siteA = (await createSite(first.baseUrl, first.keys.admin)).siteId;
    const siteB = (await createSite(first.baseUrl, first.keys.admin)).siteId;
    // today it may work at both; it onboarded a worker at A only
    const k = await thekedarWithDevice(first.baseUrl, first.keys.admin, [siteA, siteB]);
    const sign = (body: unknown) => signedBy(k, body, new Date().toISOString());
    const onboard = (baseUrl: string, siteIds: string[]) => {
      const body = { name: 'Crew', phone: nextPhoneNumber('+91 98761'), siteIds };
      return http(baseUrl, 'POST', '/api/v5/workers', { body, headers: sign(body) });
    };
    expect((await onboard(first.baseUrl, [siteA])).status).toBe(201);
    const idle = await http(first.baseUrl, 'POST', '/api/v5/thekedars', {
      key: first.keys.admin,
      body: { name: 'Idle', phone: nextPhoneNumber('+91 90004'), siteIds: [siteB] },
    });
    // behind the app's back: the thekedars as the store held them before they had sites (and
    // before the site and thekedar tags, which came later)
    const store = first.app.get(Store);
    if (store instanceof MongoStore) {
      await store.connection
        .collection('thekedars')
        .updateMany({}, { $unset: { siteIds: 1, tag: 1 } });
      await store.connection.collection('sites').updateMany({}, { $unset: { tag: 1 } });
      await store.connection.collection('site_seal').deleteMany({});
      await store.connection.collection('thekedar_seal').deleteMany({});
    } else {
      const db = (store as SqliteStore).db;
      db.exec(`ALTER TABLE thekedars DROP COLUMN site_ids;
        ALTER TABLE thekedars DROP COLUMN tag;
        ALTER TABLE sites DROP COLUMN tag;
        DROP TABLE site_seal;
        DROP TABLE thekedar_seal;
        DELETE FROM schema_migrations WHERE scope = 'device-trust.workforce' AND version IN (8, 13);`);
    }
    await first.close({ keepData: true });

    const t = await startTestApp({ DATA_DIR: first.dataDir, TRUST_AUTO_BLOCK_FLOOR: '0' });
    try {
      const sites = async (id: string) =>
        (await http(t.baseUrl, 'GET', `/api/v5/thekedars/${id}`, { key: t.keys.admin })).body
          .siteIds;
      expect(await sites(k.thekedarId)).toEqual([siteA]);
      expect(await sites(idle.body.thekedarId)).toEqual([]);
      // named by id in the boot's log, for an admin to review
      const warned = t
        .logs()
        .split('\n')
        .filter((l) => l.includes('"thekedar'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(warned).toContainEqual(
        expect.objectContaining({
          level: 40,
          thekedars: [{ thekedarId: k.thekedarId, siteIds: [siteA] }],
          more: false,
        }),
      );
      expect(warned).toContainEqual(
        expect.objectContaining({ level: 40, thekedarIds: [idle.body.thekedarId], more: false }),
      );
      expect((await onboard(t.baseUrl, [siteA])).status).toBe(201);
      const b = await onboard(t.baseUrl, [siteB]);
      expect([b.status, b.body.code]).toEqual([403, 'site_not_allowed']);
    } finally {
      const opened = t.app.get(Store);
      if (opened instanceof MongoStore) await opened.connection.dropDatabase();
      await t.close();
      rmSync(first.dataDir, { recursive: true, force: true });
    }
  });
});
