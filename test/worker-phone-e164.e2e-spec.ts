import { parse } from 'csv-parse/sync';
import { http, startTestApp, storeRow, TestApp } from './support/test-app';
import { createSite, phoneAt, punch, sync } from './support/timesheet-client';

/** One Indian mobile number, as people write it. */
const SPELLINGS = [
  '+91 98765 43210',
  '919876543210',
  '09876543210',
  '0091 98765 43210',
  '9876543210',
];
const E164 = '+919876543210';

/**
 * Phone numbers are stored and compared in E.164 (PHONE_DEFAULT_COUNTRY, IN, for a number
 * without a country code): one number however it is written is one worker per site; a number
 * that is not a possible one is 400 invalid_phone, its digits never repeated.
 */
describe('worker phones in E.164 (e2e)', () => {
  let t: TestApp;
  let site: string;

  const post = (path: string, body: unknown) =>
    http(t.baseUrl, 'POST', path, { key: t.keys.admin, body });
  const get = (path: string) => http(t.baseUrl, 'GET', path, { key: t.keys.admin });
  const patch = (path: string, body: unknown) =>
    http(t.baseUrl, 'PATCH', path, { key: t.keys.admin, body });

  beforeAll(async () => {
    t = await startTestApp({ TRUST_AUTO_BLOCK_FLOOR: '0' });
    site = (await createSite(t.baseUrl, t.keys.admin)).siteId;
  });
  afterAll(async () => t.close());

  it('should take five spellings of one number for one worker: the first stored in E.164, the others 409', async () => {
    const first = await post('/api/v5/workers', {
      name: 'Sita Devi',
      phone: SPELLINGS[0],
      siteIds: [site],
    });
    expect(first.status).toBe(201);
    const workerId = first.body.workerId as string;
    for (const phone of SPELLINGS.slice(1)) {
      const again = await post('/api/v5/workers', { name: 'Sita D.', phone, siteIds: [site] });
      expect([phone, again.status, again.body.code]).toEqual([phone, 409, 'worker_exists']);
      expect(again.body.errors).toContainEqual({ field: 'workerId', message: workerId });
    }
    // stored, shown and listed in E.164
    expect((await get(`/api/v5/workers/${workerId}`)).body.phone).toBe(E164);
    expect((await storeRow(t, 'workers', workerId)).phone).toBe(E164);
    const listed = (await get(`/api/v5/workers?siteId=${site}&limit=500`)).body as {
      phone: string;
    }[];
    expect(listed.filter((w) => w.phone === E164)).toHaveLength(1);

    // another worker moved to one of the spellings: the same number, 409
    const other = await post('/api/v5/workers', {
      name: 'Ravi',
      phone: '+91 90000 00001',
      siteIds: [site],
    });
    expect(other.status).toBe(201);
    const moved = await patch(`/api/v5/workers/${other.body.workerId}`, { phone: '09876543210' });
    expect([moved.status, moved.body.code]).toEqual([409, 'worker_exists']);
    const changed = await patch(`/api/v5/workers/${other.body.workerId}`, {
      phone: '0 90000 00002',
    });
    expect([changed.status, changed.body.phone]).toEqual([200, '+919000000002']);
  });

  it("should take another country's number (+44…) as another worker's, in E.164", async () => {
    const uk = await post('/api/v5/workers', {
      name: 'Sam',
      phone: '+44 7911 123456',
      siteIds: [site],
    });
    expect(uk.status).toBe(201);
    expect((await get(`/api/v5/workers/${uk.body.workerId}`)).body.phone).toBe('+447911123456');
    // written with 00 for +: the same number
    const again = await post('/api/v5/workers', {
      name: 'Sam',
      phone: '0044 7911 123456',
      siteIds: [site],
    });
    expect([again.status, again.body.code]).toEqual([409, 'worker_exists']);
    expect(again.body.errors).toContainEqual({ field: 'workerId', message: uk.body.workerId });
  });

  it('should answer a number that is not a possible one with 400 invalid_phone, never repeating it', async () => {
    const worker = await post('/api/v5/workers', {
      name: 'Lata',
      phone: '+91 90000 00003',
      siteIds: [site],
    });
    const answers = [
      await post('/api/v5/workers', { name: 'X', phone: '+91 4444 4', siteIds: [site] }),
      await post('/api/v5/workers', { name: 'X', phone: '4444 44', siteIds: [site] }),
      await patch(`/api/v5/workers/${worker.body.workerId}`, { phone: '+91 4444 4' }),
      await post('/api/v5/thekedars', { name: 'Ramesh', phone: '+91 4444 4' }),
    ];
    for (const answer of answers) {
      expect([answer.status, answer.body.code]).toEqual([400, 'invalid_phone']);
      expect(answer.body.errors).toEqual([{ field: 'phone', message: expect.any(String) }]);
      expect(JSON.stringify(answer.body)).not.toMatch(/4444/);
    }
    expect(t.logs()).not.toMatch(/44444/);
    // nothing stored, nothing changed
    expect((await get(`/api/v5/workers/${worker.body.workerId}`)).body.phone).toBe('+919000000003');
  });

  it("should store a thekedar's phone in E.164", async () => {
    const created = await post('/api/v5/thekedars', { name: 'Ramesh', phone: '098100 00009' });
    expect(created.status).toBe(201);
    const thekedars = (await get('/api/v5/thekedars?limit=500')).body as {
      thekedarId: string;
      phone: string;
    }[];
    expect(thekedars.find((k) => k.thekedarId === created.body.thekedarId)?.phone).toBe(
      '+919810000009',
    );
  });

  it("should export the worker's phone in E.164 in the payroll CSV", async () => {
    // created with `+91 98765 000NN` (test/support/worker-client.ts nextPhoneNumber)
    const phone = await phoneAt(t.baseUrl, t.keys.admin, site);
    const stored = (await get(`/api/v5/workers/${phone.workerId}`)).body.phone as string;
    expect(stored).toMatch(/^\+9198765\d{5}$/);
    const now = Date.now();
    // after the phone's token was issued (a punch before it is outside its window), within
    // the clock skew the server allows
    const synced = await sync(t.baseUrl, phone, [
      punch(phone, 'check_in', new Date(now + 5_000).toISOString()),
      punch(phone, 'check_out', new Date(now + 60_000).toISOString()),
    ]);
    expect(synced.accepted).toBe(2);
    const day = (offset: number) => new Date(now + offset * 86_400_000).toISOString().slice(0, 10);
    const res = await fetch(
      `${t.baseUrl}/api/v5/sites/${site}/timesheets.csv?from=${day(-2)}&to=${day(2)}`,
      { headers: { 'x-api-key': t.keys.admin } },
    );
    expect(res.status).toBe(200);
    const rows = parse<Record<string, string>>(await res.text(), { columns: true });
    const row = rows.find((r) => r.worker_id === phone.workerId);
    // as it is: `+` and digits is a number to a spreadsheet, nothing it could run, so without
    // the single quote a formula gets (the payroll software would keep the quote)
    expect(row?.worker_phone).toBe(stored);
  });
});
