import { ManualClock } from '@app/common';
import { http, startTestApp, TestApp } from './support/test-app';
import { createSite, punch } from './support/timesheet-client';
import {
  nextPhoneNumber,
  Phone,
  refreshToken,
  registerPhone,
  signPacket,
  syncBatch,
} from './support/worker-client';

/**
 * Workers move between sites and leave: PATCH /api/v5/workers/:workerId with `siteIds`, and
 * POST /api/v5/workers/:workerId/deactivate and /reactivate, through the real server: what the
 * phone claims, the worker's phones (token refresh and sync) and the timesheets see.
 */
describe("a worker's sites and status (e2e)", () => {
  let t: TestApp;
  const clock = new ManualClock('2026-03-01T00:00:00.000Z');
  let sims = 0;

  beforeAll(async () => {
    t = await startTestApp(
      { SYNC_MAX_OFFLINE_AGE_HOURS: String(24 * 30), TRUST_AUTO_BLOCK_FLOOR: '0' },
      { clock },
    );
  });
  afterAll(async () => t.close());

  const admin = () => t.keys.admin;
  const patch = (workerId: string, body: unknown, key = admin()) =>
    http(t.baseUrl, 'PATCH', `/api/v5/workers/${workerId}`, { key, body });
  const setStatus = (
    workerId: string,
    action: 'deactivate' | 'reactivate',
    body: unknown = { reason: 'left for another contractor' },
    key = admin(),
  ) => http(t.baseUrl, 'POST', `/api/v5/workers/${workerId}/${action}`, { key, body });
  const read = (workerId: string) =>
    http(t.baseUrl, 'GET', `/api/v5/workers/${workerId}`, { key: t.keys.auditor });
  const refresh = (phone: Phone) => refreshToken(t.baseUrl, phone, clock.now().toISOString());
  /** The sites an offline token carries (its payload, as the phone can read it). */
  const tokenSites = (token: string): string[] =>
    JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8')).siteIds;

  async function newWorker(siteIds: string[], phone = nextPhoneNumber()) {
    const res = await http(t.baseUrl, 'POST', '/api/v5/workers', {
      key: admin(),
      body: { name: 'Sita Devi', phone, siteIds },
    });
    expect(res.status).toBe(201);
    return { ...(res.body as { workerId: string; enrollmentCode: string }), phone };
  }

  /** A worker at `siteIds` whose phone registers at `at` (the clock moves there: forward only). */
  async function workerWithPhone(siteIds: string[], at: string) {
    clock.set(at);
    const worker = await newWorker(siteIds);
    sims += 1;
    const phone = await registerPhone(t.baseUrl, worker, siteIds[0], `wsites-${sims}`);
    return { worker, phone };
  }

  /** A punch of `phone` at `siteId`, an hour before the clock. */
  const punchAt = (phone: Phone, siteId: string, type: 'check_in' | 'check_out' = 'check_in') =>
    signPacket(phone, {
      siteId,
      type,
      timestamp: new Date(clock.now().getTime() - 3_600_000).toISOString(),
      geo: { lat: 28.6139, lng: 77.209, accuracyM: 8 },
    });

  const resultsOf = (res: { body: any }) =>
    (res.body.results as Array<{ status: string; reason?: string }>).map((r) =>
      r.status === 'rejected' ? `rejected:${r.reason}` : r.status,
    );

  describe('PATCH /api/v5/workers/:workerId siteIds', () => {
    it("should move a worker from A to B: the phone's next token carries B, a packet recorded at A from the move on is refused (the old token too) and one recorded before it accepted, B is accepted, A's timesheets keep the old days", async () => {
      const a = (await createSite(t.baseUrl, admin(), 'Asia/Kolkata')).siteId;
      const b = (await createSite(t.baseUrl, admin(), 'Asia/Kolkata')).siteId;
      const { worker, phone } = await workerWithPhone([a], '2026-03-01T00:00:00.000Z');
      expect(tokenSites(phone.token)).toEqual([a]);
      // a day at A, synced before the move
      const dayAtA = [
        punch({ ...phone, siteId: a }, 'check_in', '2026-03-01T03:30:00.000Z'),
        punch({ ...phone, siteId: a }, 'check_out', '2026-03-01T12:30:00.000Z'),
      ];
      clock.set('2026-03-02T04:00:00.000Z');
      const before = await syncBatch(t.baseUrl, phone.token, dayAtA);
      expect([before.status, before.body.accepted]).toEqual([200, 2]);
      // recorded at A before the move, not synced yet
      const unsynced = punchAt(phone, a);

      const moved = await patch(worker.workerId, { siteIds: [b] });
      expect(moved.status).toBe(200);
      expect(moved.body).toMatchObject({ workerId: worker.workerId, siteIds: [b] });
      const detail = await read(worker.workerId);
      expect(detail.body.siteIds).toEqual([b]);
      expect(detail.body.events).toEqual([
        {
          action: 'sites_changed',
          actor: expect.stringMatching(/^admin:/),
          siteIds: [b],
          previousSiteIds: [a],
          at: clock.now().toISOString(),
        },
      ]);

      // the old token (still valid, naming A): what was recorded at A before the move is the
      // worker's (an offline phone syncs late: no punch lost), the day's punches sent again are
      // duplicates; at A after the move, or at B under a token without B, is refused
      clock.advance(2 * 3_600_000);
      const old = await syncBatch(t.baseUrl, phone.token, [
        unsynced,
        ...dayAtA,
        punchAt(phone, a),
        punchAt(phone, b),
      ]);
      expect(old.status).toBe(200);
      expect(resultsOf(old)).toEqual([
        'accepted',
        'duplicate',
        'duplicate',
        'rejected:site_not_allowed',
        'rejected:site_not_allowed',
      ]);
      // the next refresh carries B; with it B is accepted and A refused
      const refreshed = await refresh(phone);
      expect(refreshed.status).toBe(200);
      expect(tokenSites(refreshed.body.offlineToken)).toEqual([b]);
      clock.advance(2 * 3_600_000); // punches inside the new token's window
      const atB = punchAt(phone, b);
      const next = await syncBatch(t.baseUrl, refreshed.body.offlineToken, [
        atB,
        punchAt(phone, a, 'check_out'),
      ]);
      expect(resultsOf(next)).toEqual(['accepted', 'rejected:site_not_allowed']);
      const fraud = await http(
        t.baseUrl,
        'GET',
        `/api/v5/fraud/events?deviceId=${phone.deviceId}&type=site_not_allowed`,
        { key: admin() },
      );
      expect(fraud.status).toBe(200);
      expect(JSON.stringify(fraud.body)).toContain(
        'not assigned to this site when this packet was recorded',
      );

      // A's timesheets keep the day worked there (its punches stay in A's ledger chain)
      const sheetA = await http(
        t.baseUrl,
        'GET',
        `/api/v5/sites/${a}/timesheets?from=2026-03-01&to=2026-03-01`,
        { key: admin() },
      );
      expect(sheetA.status).toBe(200);
      expect(sheetA.body.days).toEqual([
        expect.objectContaining({ workerId: worker.workerId, date: '2026-03-01' }),
      ]);
      // listings follow the sites
      const atSite = async (siteId: string) =>
        (
          await http(t.baseUrl, 'GET', `/api/v5/workers?siteId=${siteId}&limit=100`, {
            key: admin(),
          })
        ).body.map((w: any) => w.workerId);
      expect(await atSite(b)).toContain(worker.workerId);
      expect(await atSite(a)).not.toContain(worker.workerId);
    });

    it('should claim the phone at a site added (409 worker_exists, nothing changed, when another worker has it there) and release it at a site removed', async () => {
      const [a, b, c] = [
        (await createSite(t.baseUrl, admin())).siteId,
        (await createSite(t.baseUrl, admin())).siteId,
        (await createSite(t.baseUrl, admin())).siteId,
      ];
      const first = await newWorker([a]);
      const other = await newWorker([b], first.phone); // the same number, at another site
      const refused = await patch(first.workerId, { siteIds: [a, b], name: 'Renamed' });
      expect([refused.status, refused.body.code]).toEqual([409, 'worker_exists']);
      expect(refused.body.errors).toContainEqual({ field: 'workerId', message: other.workerId });
      const unchanged = await read(first.workerId);
      expect(unchanged.body).toMatchObject({ name: 'Sita Devi', siteIds: [a], events: [] });
      // still held at A
      const atA = await http(t.baseUrl, 'POST', '/api/v5/workers', {
        key: admin(),
        body: { name: 'X', phone: first.phone, siteIds: [a] },
      });
      expect([atA.status, atA.body.code]).toEqual([409, 'worker_exists']);

      // moved from A to C: the number is free at A, held at C
      expect((await patch(first.workerId, { siteIds: [c] })).status).toBe(200);
      expect((await newWorker([a], first.phone)).workerId).toEqual(expect.any(String));
      const atC = await http(t.baseUrl, 'POST', '/api/v5/workers', {
        key: admin(),
        body: { name: 'X', phone: first.phone, siteIds: [c] },
      });
      expect([atC.status, atC.body.code]).toEqual([409, 'worker_exists']);
    });

    it('should refuse unknown sites (404, nothing changed), bad bodies (400), other roles (403) and unknown workers (404)', async () => {
      const a = (await createSite(t.baseUrl, admin())).siteId;
      const worker = await newWorker([a]);
      const unknownSite = await patch(worker.workerId, {
        siteIds: [a, '0123456789abcdef01234567'],
      });
      expect([unknownSite.status, unknownSite.body.code]).toEqual([404, 'site_not_found']);
      expect(unknownSite.body.errors).toEqual([
        { field: 'siteIds', message: 'no site 0123456789abcdef01234567' },
      ]);
      for (const siteIds of [[], [a, a], ['nope'], Array(51).fill(a), a]) {
        const bad = await patch(worker.workerId, { siteIds });
        expect([bad.status, bad.body.code]).toEqual([400, 'validation_failed']);
      }
      expect((await patch(worker.workerId, { siteIds: [a] }, t.keys.auditor)).status).toBe(403);
      const unknown = await patch('0123456789abcdef01234567', { siteIds: [a] });
      expect([unknown.status, unknown.body.code]).toEqual([404, 'worker_not_found']);
      expect((await read(worker.workerId)).body).toMatchObject({ siteIds: [a], events: [] });
    });
  });

  describe('POST /api/v5/workers/:workerId/deactivate and /reactivate', () => {
    it("should refuse an inactive worker's refresh, sync and enrollment (403 worker_inactive) while its timesheets stay, and restore them on reactivation", async () => {
      const site = (await createSite(t.baseUrl, admin(), 'Asia/Kolkata')).siteId;
      const { worker, phone } = await workerWithPhone([site], '2026-03-05T00:00:00.000Z');
      const day = [
        punch(phone, 'check_in', '2026-03-05T03:30:00.000Z'),
        punch(phone, 'check_out', '2026-03-05T12:30:00.000Z'),
      ];
      clock.set('2026-03-06T04:00:00.000Z');
      expect((await syncBatch(t.baseUrl, phone.token, day)).body.accepted).toBe(2);
      const code = (
        await http(t.baseUrl, 'POST', `/api/v5/workers/${worker.workerId}/enrollment-code`, {
          key: admin(),
        })
      ).body.enrollmentCode as string;

      const off = await setStatus(worker.workerId, 'deactivate', { reason: 'left the site' });
      expect(off.status).toBe(200);
      expect(off.body).toMatchObject({
        workerId: worker.workerId,
        status: 'inactive',
        statusChangedAt: clock.now().toISOString(),
        siteIds: [site],
      });
      // the token is still valid: what was recorded before the deactivation is taken (an
      // offline phone syncs late: no punch lost), what was recorded after is refused, without
      // a fraud event; a batch of nothing but such packets is refused, and so is a new token
      const beforeLeaving = punchAt(phone, site);
      clock.advance(2 * 3_600_000);
      const mixed = await syncBatch(t.baseUrl, phone.token, [beforeLeaving, punchAt(phone, site)]);
      expect([mixed.status, ...resultsOf(mixed)]).toEqual([
        200,
        'accepted',
        'rejected:worker_inactive',
      ]);
      const sync = await syncBatch(t.baseUrl, phone.token, [punchAt(phone, site)]);
      expect([sync.status, sync.body.code]).toEqual([403, 'worker_inactive']);
      const fraud = await http(
        t.baseUrl,
        'GET',
        `/api/v5/fraud/events?deviceId=${phone.deviceId}`,
        { key: admin() },
      );
      expect(fraud.body).toEqual([]);
      const token = await refresh(phone);
      expect([token.status, token.body.code]).toEqual([403, 'worker_inactive']);
      const enroll = await http(t.baseUrl, 'POST', '/api/v5/device/register', {
        body: {
          enrollmentCode: code,
          fingerprint: { os: 'Android 14', model: 'Redmi', simHash: 'wsites-reenroll' },
        },
      });
      expect([enroll.status, enroll.body.code]).toEqual([403, 'worker_inactive']);
      const newCode = await http(
        t.baseUrl,
        'POST',
        `/api/v5/workers/${worker.workerId}/enrollment-code`,
        { key: admin() },
      );
      expect([newCode.status, newCode.body.code]).toEqual([403, 'worker_inactive']);
      // its day stays in the timesheets
      const sheet = await http(
        t.baseUrl,
        'GET',
        `/api/v5/sites/${site}/timesheets?from=2026-03-05&to=2026-03-05`,
        { key: admin() },
      );
      expect(sheet.body.days).toEqual([
        expect.objectContaining({ workerId: worker.workerId, date: '2026-03-05' }),
      ]);
      // listings show the status and filter by it
      const list = async (query: string) =>
        (
          await http(t.baseUrl, 'GET', `/api/v5/workers?siteId=${site}&${query}`, {
            key: t.keys.auditor,
          })
        ).body;
      expect(await list('status=inactive')).toEqual([
        expect.objectContaining({ workerId: worker.workerId, status: 'inactive' }),
      ]);
      expect(await list('status=active')).toEqual([]);
      expect(await list('limit=10')).toEqual([
        expect.objectContaining({ workerId: worker.workerId, status: 'inactive' }),
      ]);
      // deactivating again: as it is, no second event
      expect((await setStatus(worker.workerId, 'deactivate')).body.status).toBe('inactive');

      const back = await setStatus(worker.workerId, 'reactivate', {
        reason: 'back for the monsoon',
      });
      expect([back.status, back.body.status]).toEqual([200, 'active']);
      // what was recorded while the worker was away stays refused after its return
      const away = await syncBatch(t.baseUrl, phone.token, [punchAt(phone, site)]);
      expect([away.status, ...resultsOf(away)]).toEqual([200, 'rejected:worker_inactive']);
      clock.advance(2 * 3_600_000); // a punch recorded after the reactivation
      const again = await syncBatch(t.baseUrl, phone.token, [punchAt(phone, site)]);
      expect([again.status, again.body.accepted]).toEqual([200, 1]);
      const fresh = await refresh(phone);
      expect(fresh.status).toBe(200);
      expect(tokenSites(fresh.body.offlineToken)).toEqual([site]);
      const enrolled = await http(t.baseUrl, 'POST', '/api/v5/device/register', {
        body: {
          enrollmentCode: code,
          fingerprint: { os: 'Android 14', model: 'Redmi', simHash: 'wsites-reenroll' },
        },
      });
      expect(enrolled.status).toBe(201);
      expect((await read(worker.workerId)).body.events).toEqual([
        {
          action: 'deactivated',
          actor: expect.stringMatching(/^admin:/),
          reason: 'left the site',
          at: expect.any(String),
        },
        {
          action: 'reactivated',
          actor: expect.stringMatching(/^admin:/),
          reason: 'back for the monsoon',
          at: expect.any(String),
        },
      ]);
    });

    it("should free a deactivated worker's phone number for a new worker, and refuse the reactivation while it holds it (409, nothing changed)", async () => {
      const site = (await createSite(t.baseUrl, admin())).siteId;
      const { worker, phone } = await workerWithPhone([site], '2026-03-08T00:00:00.000Z');
      clock.advance(2 * 3_600_000); // punches after the token's issuing
      expect((await setStatus(worker.workerId, 'deactivate')).status).toBe(200);
      const successor = await newWorker([site], worker.phone);
      const refused = await setStatus(worker.workerId, 'reactivate');
      expect([refused.status, refused.body.code]).toEqual([409, 'worker_exists']);
      expect(refused.body.errors).toContainEqual({
        field: 'workerId',
        message: successor.workerId,
      });
      const still = await read(worker.workerId);
      expect(still.body.status).toBe('inactive');
      expect(still.body.events.map((e: any) => e.action)).toEqual(['deactivated']);
      clock.advance(2 * 3_600_000); // a punch recorded after the deactivation
      const sync = await syncBatch(t.baseUrl, phone.token, [punchAt(phone, site)]);
      expect([sync.status, sync.body.code]).toEqual([403, 'worker_inactive']);

      // given another number (its record only while inactive), it comes back
      const renumbered = await patch(worker.workerId, { phone: nextPhoneNumber() });
      expect([renumbered.status, renumbered.body.status]).toEqual([200, 'inactive']);
      const back = await setStatus(worker.workerId, 'reactivate');
      expect([back.status, back.body.status]).toEqual([200, 'active']);
      clock.advance(2 * 3_600_000); // a punch recorded after the reactivation
      const synced = await syncBatch(t.baseUrl, phone.token, [punchAt(phone, site)]);
      expect([synced.status, synced.body.accepted]).toEqual([200, 1]);
    });

    it('should refuse other roles (403), unknown workers (404), a missing or short reason and a bad status filter (400)', async () => {
      const site = (await createSite(t.baseUrl, admin())).siteId;
      const worker = await newWorker([site]);
      for (const action of ['deactivate', 'reactivate'] as const) {
        const auditor = await setStatus(worker.workerId, action, undefined, t.keys.auditor);
        expect([auditor.status, auditor.body.code]).toEqual([403, 'forbidden']);
        const unknown = await setStatus('0123456789abcdef01234567', action);
        expect([unknown.status, unknown.body.code]).toEqual([404, 'worker_not_found']);
        for (const body of [{}, { reason: 'no' }, { reason: 7 }, { reason: 'x'.repeat(501) }]) {
          const bad = await setStatus(worker.workerId, action, body);
          expect([bad.status, bad.body.code]).toEqual([400, 'validation_failed']);
        }
        expect((await setStatus('nope', action)).status).toBe(400);
      }
      const filter = await http(t.baseUrl, 'GET', '/api/v5/workers?status=left', {
        key: admin(),
      });
      expect([filter.status, filter.body.code]).toEqual([400, 'validation_failed']);
      expect((await read(worker.workerId)).body).toMatchObject({ status: 'active', events: [] });
    });
  });
  describe('the sites a worker was created with', () => {
    it('should judge a packet dated before its first site change by the sites it had then (created at A, moved to B and C: C before the move refused, A accepted), and an add_shift before it at A and C alike', async () => {
      const [a, b, c] = [
        (await createSite(t.baseUrl, admin(), 'Asia/Kolkata')).siteId,
        (await createSite(t.baseUrl, admin(), 'Asia/Kolkata')).siteId,
        (await createSite(t.baseUrl, admin(), 'Asia/Kolkata')).siteId,
      ];
      const { worker, phone } = await workerWithPhone([a], '2026-03-20T00:00:00.000Z');
      // recorded at A under the first token, not synced before the move
      const atABefore = punch({ ...phone, siteId: a }, 'check_in', '2026-03-21T03:30:00.000Z');
      clock.set('2026-03-21T04:00:00.000Z');
      const moved = await patch(worker.workerId, { siteIds: [b, c] });
      expect(moved.status).toBe(200);
      expect((await read(worker.workerId)).body.events).toEqual([
        {
          action: 'sites_changed',
          actor: expect.stringMatching(/^admin:/),
          siteIds: [b, c],
          previousSiteIds: [a],
          at: '2026-03-21T04:00:00.000Z',
        },
      ]);

      // a token naming B and C, issued at the move: a punch at C a minute before it (inside
      // the token's window, within the clock skew) was not at a site of the worker then
      const refreshed = await refresh(phone);
      expect(tokenSites(refreshed.body.offlineToken)).toEqual([b, c]);
      const next = await syncBatch(t.baseUrl, refreshed.body.offlineToken, [
        punch({ ...phone, siteId: c }, 'check_in', '2026-03-21T03:59:00.000Z'),
        punch({ ...phone, siteId: b }, 'check_in', '2026-03-21T04:00:30.000Z'),
      ]);
      expect(resultsOf(next)).toEqual(['rejected:site_not_allowed', 'accepted']);
      // the old token: at A before the move, the worker's
      const old = await syncBatch(t.baseUrl, phone.token, [atABefore]);
      expect(resultsOf(old)).toEqual(['accepted']);

      // add_shift before the move: at A recorded, and at C too (unlike the phone's punch above):
      // a supervisor's record of history reaches back before a site was given, as it does
      // before the worker's creation (test/timesheets-backfill.e2e-spec.ts)
      clock.set('2026-03-21T10:00:00.000Z');
      const addShift = (siteId: string, at: string, until: string) =>
        http(t.baseUrl, 'POST', `/api/v5/sites/${siteId}/corrections`, {
          key: admin(),
          body: {
            action: 'add_shift',
            reason: 'site register',
            workerId: worker.workerId,
            at,
            until,
          },
        });
      const atC = await addShift(c, '2026-03-20T20:00:00.000Z', '2026-03-20T22:00:00.000Z');
      expect(atC.status).toBe(201);
      const atA = await addShift(a, '2026-03-20T20:00:00.000Z', '2026-03-20T22:00:00.000Z');
      expect(atA.status).toBe(201);
      // after the move: at C recorded, at A (moved off) refused
      const laterC = await addShift(c, '2026-03-21T05:00:00.000Z', '2026-03-21T07:00:00.000Z');
      expect(laterC.status).toBe(201);
      const laterA = await addShift(a, '2026-03-21T05:00:00.000Z', '2026-03-21T07:00:00.000Z');
      expect([laterA.status, laterA.body.code]).toEqual([422, 'worker_not_at_site']);
    });
  });
});
