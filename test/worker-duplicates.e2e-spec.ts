import { http, startTestApp, TestApp } from './support/test-app';
import {
  createSite,
  signedBy,
  thekedarWithDevice,
  ThekedarDevice,
} from './support/timesheet-client';
import { nextPhoneNumber } from './support/worker-client';

/**
 * A phone is one worker per site and one worker per thekedar: a second creation is 409
 * worker_exists (naming the worker to an admin and to its own thekedar), nothing stored; a
 * thekedar's retry of its own onboarding (re-signed, same body) gets its worker back with a new
 * enrollment code until a phone registered with one.
 */
describe('duplicate workers (e2e)', () => {
  let t: TestApp;
  let siteA: string;
  let siteB: string;
  let ramesh: ThekedarDevice;
  let suresh: ThekedarDevice;
  let seconds = 0;

  const asAdmin = (body: unknown) =>
    http(t.baseUrl, 'POST', '/api/v5/workers', { key: t.keys.admin, body });
  /** A signed creation; each call signs anew (a signature is single use). */
  const asThekedar = (k: ThekedarDevice, body: unknown) => {
    seconds += 1;
    const timestamp = new Date(Date.now() - 60_000 + seconds * 10).toISOString();
    return http(t.baseUrl, 'POST', '/api/v5/workers', {
      body,
      headers: signedBy(k, body, timestamp),
    });
  };
  const register = (enrollmentCode: string, simHash: string) =>
    http(t.baseUrl, 'POST', '/api/v5/device/register', {
      body: { enrollmentCode, fingerprint: { os: 'Android 14', model: 'Redmi', simHash } },
    });
  /** A number of nextPhoneNumber (`+91 98765 000NN`) as it is stored: E.164. */
  const e164 = (typed: string) => typed.replace(/ /g, '');
  const workersAt = async (siteId: string) =>
    (
      await http(t.baseUrl, 'GET', `/api/v5/workers?siteId=${siteId}&limit=500`, {
        key: t.keys.admin,
      })
    ).body as { workerId: string; phone: string }[];

  beforeAll(async () => {
    t = await startTestApp({ TRUST_AUTO_BLOCK_FLOOR: '0' });
    siteA = (await createSite(t.baseUrl, t.keys.admin)).siteId;
    siteB = (await createSite(t.baseUrl, t.keys.admin)).siteId;
    ramesh = await thekedarWithDevice(t.baseUrl, t.keys.admin, [siteA, siteB]);
    suresh = await thekedarWithDevice(t.baseUrl, t.keys.admin, [siteA, siteB]);
  });
  afterAll(async () => t.close());

  it('should refuse an admin a second worker with a phone at the same site, naming the first', async () => {
    const phone = nextPhoneNumber();
    const first = await asAdmin({ name: 'Sita Devi', phone, siteIds: [siteA] });
    expect(first.status).toBe(201);
    // the same number written without its spaces, at that site among others
    const again = await asAdmin({
      name: 'Sita D.',
      phone: phone.replace(/ /g, ''),
      siteIds: [siteB, siteA],
    });
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('worker_exists');
    expect(again.body.errors).toEqual([
      {
        field: 'phone',
        message: `already the phone of worker ${first.body.workerId} at site ${siteA}`,
      },
      { field: 'workerId', message: first.body.workerId },
    ]);
    expect(again.body.message).not.toContain(phone);
    expect((await workersAt(siteA)).filter((w) => w.phone === e164(phone))).toHaveLength(1);
    expect(await workersAt(siteB)).toEqual([]);
    // the same number at another site is another record (a worker can change contractor)
    expect((await asAdmin({ name: 'Sita Devi', phone, siteIds: [siteB] })).status).toBe(201);
  });

  it('should refuse a change of phone to one another worker has at its site', async () => {
    const [a, b] = [nextPhoneNumber(), nextPhoneNumber()];
    const first = await asAdmin({ name: 'A', phone: a, siteIds: [siteA] });
    const second = await asAdmin({ name: 'B', phone: b, siteIds: [siteA] });
    const patch = await http(t.baseUrl, 'PATCH', `/api/v5/workers/${second.body.workerId}`, {
      key: t.keys.admin,
      body: { phone: a },
    });
    expect([patch.status, patch.body.code]).toEqual([409, 'worker_exists']);
    expect(patch.body.errors).toContainEqual({ field: 'workerId', message: first.body.workerId });
    const unchanged = await http(t.baseUrl, 'GET', `/api/v5/workers/${second.body.workerId}`, {
      key: t.keys.admin,
    });
    expect(unchanged.body.phone).toBe(e164(b));
  });

  it("should answer a thekedar's repeated onboarding with its worker and a new code, until a phone registered", async () => {
    const body = { name: 'Meena', phone: nextPhoneNumber('+91 98764'), siteIds: [siteA] };
    const first = await asThekedar(ramesh, body);
    expect(first.status).toBe(201);
    // the answer was lost: the app signs the same body again
    const retry = await asThekedar(ramesh, body);
    expect(retry.status).toBe(200);
    expect(retry.body).toMatchObject({
      workerId: first.body.workerId,
      trustScore: first.body.trustScore,
      trustInheritedUntil: first.body.trustInheritedUntil,
    });
    expect(retry.body.enrollmentCode).not.toBe(first.body.enrollmentCode);
    expect((await workersAt(siteA)).filter((w) => w.phone === e164(body.phone))).toHaveLength(1);
    // the lost code stopped working; the new one registers the worker's phone
    expect((await register(first.body.enrollmentCode, 'd0d0000000000001')).status).toBe(403);
    expect((await register(retry.body.enrollmentCode, 'd0d0000000000002')).status).toBe(201);
    // onboarding done: nothing to retry, the thekedar is told which of its workers has it
    const late = await asThekedar(ramesh, body);
    expect([late.status, late.body.code]).toEqual([409, 'worker_exists']);
    expect(late.body.errors).toContainEqual({ field: 'workerId', message: first.body.workerId });
  });

  it('should refuse a thekedar the same phone twice, at any site or under another name', async () => {
    const phone = nextPhoneNumber('+91 98764');
    const first = await asThekedar(ramesh, { name: 'Arjun', phone, siteIds: [siteA] });
    expect(first.status).toBe(201);
    for (const body of [
      { name: 'Arjun K', phone, siteIds: [siteA] },
      { name: 'Arjun', phone, siteIds: [siteB] },
      { name: 'Arjun', phone, siteIds: [siteA, siteB] },
    ]) {
      const res = await asThekedar(ramesh, body);
      expect([res.status, res.body.code]).toEqual([409, 'worker_exists']);
      expect(res.body.errors).toContainEqual({ field: 'workerId', message: first.body.workerId });
    }
  });

  it("should not name another thekedar's or an admin's worker to a thekedar", async () => {
    const phone = nextPhoneNumber('+91 98764');
    const theirs = await asThekedar(suresh, { name: 'Ravi', phone, siteIds: [siteA] });
    expect(theirs.status).toBe(201);
    const mine = await asThekedar(ramesh, { name: 'Ravi', phone, siteIds: [siteA] });
    expect([mine.status, mine.body.code]).toEqual([409, 'worker_exists']);
    expect(JSON.stringify(mine.body)).not.toContain(theirs.body.workerId);
    expect(mine.body.errors).toEqual([
      { field: 'phone', message: `already the phone of another worker at site ${siteA}` },
    ]);
    // at a site where the number is free, another thekedar onboards it
    expect((await asThekedar(ramesh, { name: 'Ravi', phone, siteIds: [siteB] })).status).toBe(201);
  });

  it('should store one worker when the same creation arrives many times at once', async () => {
    const body = { name: 'Lata', phone: nextPhoneNumber(), siteIds: [siteB] };
    const answers = await Promise.all(Array.from({ length: 8 }, () => asAdmin(body)));
    expect(answers.map((a) => a.status).sort()).toEqual([201, 409, 409, 409, 409, 409, 409, 409]);
    expect((await workersAt(siteB)).filter((w) => w.phone === e164(body.phone))).toHaveLength(1);
  });
});
