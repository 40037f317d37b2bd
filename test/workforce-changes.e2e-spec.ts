import { http, startTestApp, TestApp } from './support/test-app';
import { signedBy } from './support/timesheet-client';
import {
  enrollPhone,
  nextPhoneNumber,
  registerPhone,
  signPacket,
  syncBatch,
} from './support/worker-client';

/**
 * What an operator changes after onboarding: a worker's or a thekedar's new enrollment code (a
 * lost phone, an expired code, a closed tab), a worker's name and phone, a site's name and
 * geofence, and finding a worker's phones, one thekedar and one site.
 */
describe('workforce changes (e2e)', () => {
  let t: TestApp;
  let siteId: string;
  beforeAll(async () => {
    // the phones here sync little; the trust engine's auto-block is not what this suite is about
    t = await startTestApp({ TRUST_AUTO_BLOCK_FLOOR: '0' });
    const site = await http(t.baseUrl, 'POST', '/api/v5/sites', {
      key: t.keys.admin,
      body: { name: 'Tower B', geo: { lat: 28.6139, lng: 77.209 }, radiusM: 150 },
    });
    expect(site.status).toBe(201);
    siteId = site.body.siteId;
  });
  afterAll(async () => t.close());

  async function newWorker(name = 'Sita Devi') {
    const phone = nextPhoneNumber();
    const res = await http(t.baseUrl, 'POST', '/api/v5/workers', {
      key: t.keys.admin,
      body: { name, phone, siteIds: [siteId] },
    });
    expect(res.status).toBe(201);
    // stored in E.164: `+91 98765 000NN` without its spaces
    return {
      ...(res.body as { workerId: string; enrollmentCode: string }),
      phone: phone.replace(/ /g, ''),
    };
  }

  function newCode(workerId: string, key = t.keys.admin) {
    return http(t.baseUrl, 'POST', `/api/v5/workers/${workerId}/enrollment-code`, { key });
  }

  function register(enrollmentCode: string, simHash: string) {
    return http(t.baseUrl, 'POST', '/api/v5/device/register', {
      body: { enrollmentCode, fingerprint: { os: 'Android 14', model: 'Redmi', simHash } },
    });
  }

  describe('POST /api/v5/workers/:workerId/enrollment-code', () => {
    it('should issue a single-use code with the usual expiry that voids the unused one before it', async () => {
      const worker = await newWorker();
      const before = Date.now();
      const res = await newCode(worker.workerId);
      const after = Date.now();
      expect(res.status).toBe(201);
      expect(Object.keys(res.body).sort()).toEqual(['enrollmentCode', 'expiresAt', 'workerId']);
      expect(res.body.workerId).toBe(worker.workerId);
      expect(res.body.enrollmentCode).toMatch(/^[0-9A-Z]{4}(-[0-9A-Z]{4}){3}$/);
      expect(res.body.enrollmentCode).not.toBe(worker.enrollmentCode);
      // ENROLLMENT_CODE_TTL_HOURS, 168 by default, from the issuing
      const expiresAt = new Date(res.body.expiresAt).getTime();
      expect(expiresAt).toBeGreaterThanOrEqual(before + 168 * 3_600_000 - 1);
      expect(expiresAt).toBeLessThanOrEqual(after + 168 * 3_600_000 + 1);

      const voided = await register(worker.enrollmentCode, 'feedface00000001');
      expect([voided.status, voided.body.code]).toEqual([403, 'invalid_enrollment_code']);
      const phone = await register(res.body.enrollmentCode, 'feedface00000001');
      expect(phone.status).toBe(201);
      const again = await register(res.body.enrollmentCode, 'feedface00000002');
      expect([again.status, again.body.code]).toEqual([403, 'invalid_enrollment_code']);
    });

    it('should void every earlier unused code, and leave a registered phone working', async () => {
      const worker = await newWorker();
      const first = await registerPhone(t.baseUrl, worker, siteId, 'feedface00000003');
      const unused = (await newCode(worker.workerId)).body.enrollmentCode as string;
      const latest = (await newCode(worker.workerId)).body.enrollmentCode as string;
      expect((await register(unused, 'feedface00000004')).status).toBe(403);
      const second = await registerPhone(
        t.baseUrl,
        { workerId: worker.workerId, enrollmentCode: latest },
        siteId,
        'feedface00000004',
      );
      expect(second.deviceId).not.toBe(first.deviceId);

      // the first phone keeps its device, secret and offline token
      const sync = await syncBatch(t.baseUrl, first.token, [signPacket(first)]);
      expect(sync.status).toBe(200);
      expect(sync.body).toMatchObject({ accepted: 1, rejected: 0 });
      const device = await http(t.baseUrl, 'GET', `/api/v5/devices/${first.deviceId}`, {
        key: t.keys.admin,
      });
      expect(device.body).toMatchObject({ isBlocked: false, user: { id: worker.workerId } });
      const refreshed = await syncBatch(t.baseUrl, second.token, [signPacket(second)]);
      expect(refreshed.body).toMatchObject({ accepted: 1, rejected: 0 });
    });

    it('should log the issuing without the code', async () => {
      const worker = await newWorker();
      const code = (await newCode(worker.workerId)).body.enrollmentCode as string;
      const logs = t.logs();
      const line = logs
        .split('\n')
        .find((l) => l.includes('Worker enrollment code issued') && l.includes(worker.workerId));
      expect(JSON.parse(line!)).toMatchObject({ actor: expect.stringMatching(/^admin:/) });
      expect(logs).not.toContain(code);
      expect(logs).not.toContain(code.replace(/-/g, ''));
    });

    it('should answer 404 for an unknown worker, 400 for a malformed id, 403 for other roles', async () => {
      const unknown = await newCode('0123456789abcdef01234567');
      expect([unknown.status, unknown.body.code]).toEqual([404, 'worker_not_found']);
      expect((await newCode('not-an-id')).status).toBe(400);
      const worker = await newWorker();
      for (const key of [t.keys.auditor, t.keys.provisioner, t.keys.mobile])
        expect((await newCode(worker.workerId, key)).status).toBe(403);
      const anonymous = await http(
        t.baseUrl,
        'POST',
        `/api/v5/workers/${worker.workerId}/enrollment-code`,
      );
      expect(anonymous.status).toBe(401);
      // none of the refused calls voided the creation code
      expect((await register(worker.enrollmentCode, 'feedface00000005')).status).toBe(201);
    });
  });

  /** ENROLLMENT_CODE_TTL_HOURS (168 by default) from between `before` and `after`. */
  function expectDefaultExpiry(expiresAt: string, before: number, after: number) {
    const at = new Date(expiresAt).getTime();
    expect(at).toBeGreaterThanOrEqual(before + 168 * 3_600_000 - 1);
    expect(at).toBeLessThanOrEqual(after + 168 * 3_600_000 + 1);
  }

  describe('POST /api/v5/workers and /api/v5/thekedars', () => {
    it('should answer the expiry of the enrollment code they create, as a new code does', async () => {
      const before = Date.now();
      const worker = await http(t.baseUrl, 'POST', '/api/v5/workers', {
        key: t.keys.admin,
        body: { name: 'Sita Devi', phone: nextPhoneNumber(), siteIds: [siteId] },
      });
      const thekedar = await http(t.baseUrl, 'POST', '/api/v5/thekedars', {
        key: t.keys.admin,
        body: { name: 'Ramesh', phone: nextPhoneNumber('+91 90001') },
      });
      const after = Date.now();
      expect(worker.status).toBe(201);
      expect(thekedar.status).toBe(201);
      expectDefaultExpiry(worker.body.expiresAt, before, after);
      expectDefaultExpiry(thekedar.body.expiresAt, before, after);
      expect(Object.keys(thekedar.body).sort()).toEqual([
        'enrollmentCode',
        'expiresAt',
        'thekedarId',
      ]);
    });
  });

  describe('thekedars: GET /api/v5/thekedars/:thekedarId, POST …/enrollment-code', () => {
    async function newThekedar() {
      const phone = nextPhoneNumber('+91 90002');
      const res = await http(t.baseUrl, 'POST', '/api/v5/thekedars', {
        key: t.keys.admin,
        body: { name: 'Ramesh Kumar', phone, siteIds: [siteId] },
      });
      expect(res.status).toBe(201);
      return {
        ...(res.body as { thekedarId: string; enrollmentCode: string }),
        phone: phone.replace(/ /g, ''),
      };
    }

    function newThekedarCode(thekedarId: string, key = t.keys.admin) {
      return http(t.baseUrl, 'POST', `/api/v5/thekedars/${thekedarId}/enrollment-code`, { key });
    }

    /** Registers a thekedar's phone; its device signs onboarding requests. */
    async function thekedarPhone(thekedarId: string, enrollmentCode: string, simHash: string) {
      const res = await register(enrollmentCode, simHash);
      expect(res.status).toBe(201);
      return {
        thekedarId,
        deviceId: res.body.deviceId as string,
        secret: Buffer.from(res.body.deviceSecret as string, 'base64'),
      };
    }

    it('should read one thekedar as the list shows it', async () => {
      const thekedar = await newThekedar();
      const res = await http(t.baseUrl, 'GET', `/api/v5/thekedars/${thekedar.thekedarId}`, {
        key: t.keys.admin,
      });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        thekedarId: thekedar.thekedarId,
        name: 'Ramesh Kumar',
        phone: thekedar.phone,
        trustScore: 80,
        siteIds: [siteId],
      });
      const listed = await http(t.baseUrl, 'GET', '/api/v5/thekedars?limit=500', {
        key: t.keys.admin,
      });
      expect(listed.body.find((k: any) => k.thekedarId === thekedar.thekedarId)).toEqual(res.body);
    });

    it('should let a thekedar who lost a phone register a new one with a new code, which then signs onboardings', async () => {
      const thekedar = await newThekedar();
      await thekedarPhone(thekedar.thekedarId, thekedar.enrollmentCode, 'feedface0000a001');
      const before = Date.now();
      const unused = await newThekedarCode(thekedar.thekedarId);
      const latest = await newThekedarCode(thekedar.thekedarId);
      const after = Date.now();
      expect(latest.status).toBe(201);
      expect(Object.keys(latest.body).sort()).toEqual([
        'enrollmentCode',
        'expiresAt',
        'thekedarId',
      ]);
      expect(latest.body.thekedarId).toBe(thekedar.thekedarId);
      expect(latest.body.enrollmentCode).toMatch(/^[0-9A-Z]{4}(-[0-9A-Z]{4}){3}$/);
      expectDefaultExpiry(latest.body.expiresAt, before, after);

      // the earlier unused code stops working; the spent creation code stays spent
      for (const code of [unused.body.enrollmentCode, thekedar.enrollmentCode]) {
        const refused = await register(code, 'feedface0000a002');
        expect([refused.status, refused.body.code]).toEqual([403, 'invalid_enrollment_code']);
      }
      const phone = await thekedarPhone(
        thekedar.thekedarId,
        latest.body.enrollmentCode,
        'feedface0000a002',
      );
      const again = await register(latest.body.enrollmentCode, 'feedface0000a003');
      expect([again.status, again.body.code]).toEqual([403, 'invalid_enrollment_code']);

      // the new phone onboards a worker with a signed request
      const body = { name: 'Crew member', phone: nextPhoneNumber('+91 98763'), siteIds: [siteId] };
      const onboarded = await http(t.baseUrl, 'POST', '/api/v5/workers', {
        body,
        headers: signedBy(phone, body, new Date().toISOString()),
      });
      expect(onboarded.status).toBe(201);
      const worker = await http(t.baseUrl, 'GET', `/api/v5/workers/${onboarded.body.workerId}`, {
        key: t.keys.admin,
      });
      expect(worker.body).toMatchObject({
        sponsorKind: 'thekedar',
        thekedarId: thekedar.thekedarId,
      });
    });

    it("should leave a worker's codes alone and log the issuing without the code", async () => {
      const thekedar = await newThekedar();
      const worker = await newWorker();
      const code = (await newThekedarCode(thekedar.thekedarId)).body.enrollmentCode as string;
      const logs = t.logs();
      const line = logs
        .split('\n')
        .find(
          (l) => l.includes('Thekedar enrollment code issued') && l.includes(thekedar.thekedarId),
        );
      expect(JSON.parse(line!)).toMatchObject({ actor: expect.stringMatching(/^admin:/) });
      expect(logs).not.toContain(code);
      expect(logs).not.toContain(code.replace(/-/g, ''));
      // a worker's id is no thekedar's
      const notThekedar = await newThekedarCode(worker.workerId);
      expect([notThekedar.status, notThekedar.body.code]).toEqual([404, 'thekedar_not_found']);
      expect((await register(worker.enrollmentCode, 'feedface0000a004')).status).toBe(201);
    });

    it('should answer 404 for an unknown thekedar, 400 for a malformed id, 401 without a key, 403 for other roles', async () => {
      const thekedar = await newThekedar();
      const read = (id: string, key?: string) =>
        http(t.baseUrl, 'GET', `/api/v5/thekedars/${id}`, key ? { key } : {});
      for (const res of [
        await read('0123456789abcdef01234567', t.keys.admin),
        await newThekedarCode('0123456789abcdef01234567'),
      ])
        expect([res.status, res.body.code]).toEqual([404, 'thekedar_not_found']);
      for (const res of [await read('not-an-id', t.keys.admin), await newThekedarCode('nope')])
        expect([res.status, res.body.code]).toEqual([400, 'validation_failed']);
      for (const key of [t.keys.auditor, t.keys.provisioner, t.keys.mobile, t.keys.hardware]) {
        const reading = await read(thekedar.thekedarId, key);
        const issuing = await newThekedarCode(thekedar.thekedarId, key);
        expect([reading.status, reading.body.code]).toEqual([403, 'forbidden']);
        expect([issuing.status, issuing.body.code]).toEqual([403, 'forbidden']);
      }
      expect((await read(thekedar.thekedarId)).status).toBe(401);
      const anonymous = await http(
        t.baseUrl,
        'POST',
        `/api/v5/thekedars/${thekedar.thekedarId}/enrollment-code`,
      );
      expect(anonymous.status).toBe(401);
      // none of the refused calls voided the creation code
      expect((await register(thekedar.enrollmentCode, 'feedface0000a005')).status).toBe(201);
    });
  });

  describe('GET /api/v5/sites/:siteId', () => {
    const read = (id: string, key?: string) =>
      http(t.baseUrl, 'GET', `/api/v5/sites/${id}`, key ? { key } : {});

    it('should read one site as the list shows it, to an admin and an auditor', async () => {
      const listed = await http(t.baseUrl, 'GET', '/api/v5/sites?limit=500', {
        key: t.keys.admin,
      });
      const expected = listed.body.find((s: any) => s.siteId === siteId);
      for (const key of [t.keys.admin, t.keys.auditor]) {
        const res = await read(siteId, key);
        expect(res.status).toBe(200);
        expect(res.body).toEqual(expected);
      }
      expect(expected).toMatchObject({ name: expect.any(String), radiusM: 150 });
    });

    it('should answer 404 for an unknown site, 400 for a malformed id, 401 without a key, 403 for other roles', async () => {
      const unknown = await read('0123456789abcdef01234567', t.keys.admin);
      expect([unknown.status, unknown.body.code]).toEqual([404, 'site_not_found']);
      const malformed = await read('tower-b', t.keys.admin);
      expect([malformed.status, malformed.body.code]).toEqual([400, 'validation_failed']);
      for (const key of [t.keys.provisioner, t.keys.mobile, t.keys.hardware]) {
        const res = await read(siteId, key);
        expect([res.status, res.body.code]).toEqual([403, 'forbidden']);
      }
      expect((await read(siteId)).status).toBe(401);
    });
  });

  describe('PATCH /api/v5/workers/:workerId', () => {
    function patch(workerId: string, body: unknown, key = t.keys.admin) {
      return http(t.baseUrl, 'PATCH', `/api/v5/workers/${workerId}`, { key, body });
    }

    it('should change the name and the phone, each alone or both', async () => {
      const worker = await newWorker();
      const renamed = await patch(worker.workerId, { name: 'Sita Kumari' });
      expect(renamed.status).toBe(200);
      expect(renamed.body).toMatchObject({
        workerId: worker.workerId,
        name: 'Sita Kumari',
        phone: worker.phone,
        siteIds: [siteId],
      });
      const both = await patch(worker.workerId, { name: 'Sita K', phone: '+91 70000 00002' });
      expect(both.body).toMatchObject({ name: 'Sita K', phone: '+917000000002' });
      const read = await http(t.baseUrl, 'GET', `/api/v5/workers/${worker.workerId}`, {
        key: t.keys.auditor,
      });
      // the read carries the worker's status, site and phone changes too: the phone change
      // (where the worker's pay goes) as an event, both numbers masked
      expect(read.body).toEqual({
        ...both.body,
        events: [
          {
            action: 'phone_changed',
            actor: expect.stringMatching(/^admin:/),
            at: expect.any(String),
            phone: '+********0002',
            previousPhone: expect.stringMatching(/^\+\*+\d{4}$/),
          },
        ],
      });
    });

    it('should validate as at creation, refuse an empty body, and 404 an unknown worker', async () => {
      const worker = await newWorker();
      const badPhone = await patch(worker.workerId, { phone: 'call me' });
      expect([badPhone.status, badPhone.body.code]).toEqual([400, 'validation_failed']);
      expect(badPhone.body.errors.map((e: any) => e.field)).toEqual(['phone']);
      expect((await patch(worker.workerId, { name: '' })).status).toBe(400);
      expect((await patch(worker.workerId, { name: 'x'.repeat(201) })).status).toBe(400);
      const empty = await patch(worker.workerId, {});
      expect([empty.status, empty.body.code]).toEqual([400, 'validation_failed']);
      expect((await patch(worker.workerId, { name: null })).status).toBe(400);
      // sites as at creation: 1 to 50 distinct ids (the moves themselves: worker-sites.e2e-spec)
      for (const siteIds of [[], ['nope'], [siteId, siteId], 'x']) {
        const sites = await patch(worker.workerId, { siteIds });
        expect([sites.status, sites.body.errors?.[0]?.field]).toEqual([400, 'siteIds']);
      }
      const unknown = await patch('0123456789abcdef01234567', { name: 'X' });
      expect([unknown.status, unknown.body.code]).toEqual([404, 'worker_not_found']);
      expect((await patch(worker.workerId, { name: 'X' }, t.keys.auditor)).status).toBe(403);
      const read = await http(t.baseUrl, 'GET', `/api/v5/workers/${worker.workerId}`, {
        key: t.keys.admin,
      });
      expect(read.body).toMatchObject({ name: 'Sita Devi', phone: worker.phone });
    });
  });

  describe('GET /api/v5/devices?workerId=', () => {
    it("should list one worker's phones only, keyset paged", async () => {
      const worker = await newWorker();
      const first = await registerPhone(t.baseUrl, worker, siteId, 'feedface00000006');
      const code = (await newCode(worker.workerId)).body.enrollmentCode as string;
      const second = await registerPhone(
        t.baseUrl,
        { workerId: worker.workerId, enrollmentCode: code },
        siteId,
        'feedface00000007',
      );
      await enrollPhone(t.baseUrl, t.keys.admin, siteId); // another worker's phone
      const mine = [first.deviceId, second.deviceId].sort();

      const list = (query: string, key = t.keys.admin) =>
        http(t.baseUrl, 'GET', `/api/v5/devices?${query}`, { key });
      const all = await list(`workerId=${worker.workerId}`);
      expect(all.status).toBe(200);
      expect(all.body.map((d: any) => d.deviceId)).toEqual(mine);
      expect(all.body.map((d: any) => d.user)).toEqual([
        { kind: 'worker', id: worker.workerId },
        { kind: 'worker', id: worker.workerId },
      ]);
      const page = await list(`workerId=${worker.workerId}&limit=1&after=${mine[0]}`);
      expect(page.body.map((d: any) => d.deviceId)).toEqual([mine[1]]);
      expect((await list('workerId=0123456789abcdef01234567')).body).toEqual([]);
      expect((await list('workerId=nope')).status).toBe(400);
      expect((await list(`workerId=${worker.workerId}`, t.keys.auditor)).status).toBe(403);
    });
  });

  describe('PATCH /api/v5/sites/:siteId', () => {
    function patch(id: string, body: unknown, key = t.keys.admin) {
      return http(t.baseUrl, 'PATCH', `/api/v5/sites/${id}`, { key, body });
    }

    it('should rename a site and move its geofence, which the next sync is checked against', async () => {
      const created = await http(t.baseUrl, 'POST', '/api/v5/sites', {
        key: t.keys.admin,
        body: { name: 'Yard', geo: { lat: 28.6139, lng: 77.209 }, radiusM: 150 },
      });
      const id = created.body.siteId as string;
      const phone = await enrollPhone(t.baseUrl, t.keys.admin, id);
      const atHome = new Date(Date.now() - 120_000).toISOString();
      const inside = signPacket(phone, { type: 'check_in', timestamp: atHome });
      expect((await syncBatch(t.baseUrl, phone.token, [inside])).body.accepted).toBe(1);

      const renamed = await patch(id, { name: 'Yard 2' });
      expect(renamed.status).toBe(200);
      expect(renamed.body).toMatchObject({ siteId: id, name: 'Yard 2', radiusM: 150 });
      const moved = await patch(id, { geo: { lat: 19.07, lng: 72.87 }, radiusM: 300 });
      expect(moved.body).toMatchObject({
        siteId: id,
        name: 'Yard 2',
        geo: { lat: 19.07, lng: 72.87 },
        radiusM: 300,
        timeZone: created.body.timeZone,
      });
      const listed = await http(t.baseUrl, 'GET', '/api/v5/sites?limit=500', {
        key: t.keys.auditor,
      });
      expect(listed.body.find((s: any) => s.siteId === id)).toEqual(moved.body);

      const later = signPacket(phone, { type: 'check_out' });
      expect((await syncBatch(t.baseUrl, phone.token, [later])).body.accepted).toBe(1);
      const flagged = await http(
        t.baseUrl,
        'GET',
        `/api/v5/fraud/events?type=outside_geofence&workerId=${phone.workerId}`,
        { key: t.keys.admin },
      );
      expect(flagged.body.map((e: any) => e.packetId)).toEqual([later.payload.packetId]);
    });

    it('should refuse a time zone, an empty body and a bad geofence, and 404 an unknown site', async () => {
      const zone = await patch(siteId, { timeZone: 'Europe/London' });
      expect([zone.status, zone.body.errors?.[0]?.field]).toEqual([400, 'timeZone']);
      // its own code and why, not the whitelist's "property timeZone should not exist"
      expect(zone.body.code).toBe('time_zone_immutable');
      expect(zone.body.message).toBe(
        "a site's time zone cannot be changed after creation: every worker-day, timesheet and payroll period of the site is a local day in it and would move; create a new site with the right time zone",
      );
      const withName = await patch(siteId, { name: 'Tower Z', timeZone: 'Asia/Kolkata' });
      expect([withName.status, withName.body.code]).toEqual([400, 'time_zone_immutable']);
      const empty = await patch(siteId, {});
      expect([empty.status, empty.body.code]).toEqual([400, 'validation_failed']);
      expect((await patch(siteId, { radiusM: 5 })).status).toBe(400);
      expect((await patch(siteId, { geo: { lat: 91, lng: 0 } })).status).toBe(400);
      expect((await patch(siteId, { geo: { lat: 10 } })).status).toBe(400);
      const unknown = await patch('0123456789abcdef01234567', { name: 'X' });
      expect([unknown.status, unknown.body.code]).toEqual([404, 'site_not_found']);
      expect((await patch(siteId, { name: 'X' }, t.keys.auditor)).status).toBe(403);
      const listed = await http(t.baseUrl, 'GET', '/api/v5/sites?limit=500', {
        key: t.keys.admin,
      });
      expect(listed.body.find((s: any) => s.siteId === siteId)).toMatchObject({
        name: 'Tower B',
        geo: { lat: 28.6139, lng: 77.209 },
        radiusM: 150,
      });
    });
  });
});
