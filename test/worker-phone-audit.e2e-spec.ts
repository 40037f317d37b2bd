import { http, startTestApp, TestApp } from './support/test-app';
import { createSite } from './support/timesheet-client';
import { nextPhoneNumber } from './support/worker-client';

/**
 * Findings M6: an admin changing a worker's phone changes where its pay goes, and left no
 * trace. The change is an event of the worker (who, when, both numbers masked), listed with
 * its status and site changes; the full numbers appear in no event and no log line.
 */
describe("a change of a worker's phone (e2e)", () => {
  let t: TestApp;
  beforeAll(async () => (t = await startTestApp()));
  afterAll(async () => t.close());

  it('should be recorded in the worker events, masked, and logged without the numbers', async () => {
    const siteId = (await createSite(t.baseUrl, t.keys.admin)).siteId;
    const before = nextPhoneNumber();
    const created = await http(t.baseUrl, 'POST', '/api/v5/workers', {
      key: t.keys.admin,
      body: { name: 'Sita Devi', phone: before, siteIds: [siteId] },
    });
    expect(created.status).toBe(201);
    const workerId = created.body.workerId as string;
    const after = nextPhoneNumber('+91 98763');
    const patch = await http(t.baseUrl, 'PATCH', `/api/v5/workers/${workerId}`, {
      key: t.keys.admin,
      body: { phone: after },
    });
    expect(patch.status).toBe(200);

    const digits = (phone: string) => phone.replace(/\D/g, '');
    const masked = (phone: string) =>
      `+${'*'.repeat(digits(phone).length - 4)}${digits(phone).slice(-4)}`;
    const detail = await http(t.baseUrl, 'GET', `/api/v5/workers/${workerId}`, {
      key: t.keys.auditor,
    });
    expect(detail.status).toBe(200);
    expect(detail.body.events).toEqual([
      {
        action: 'phone_changed',
        actor: expect.stringMatching(/^admin:/),
        phone: masked(after),
        previousPhone: masked(before),
        at: expect.any(String),
      },
    ]);
    // the numbers (as typed, as stored, or their national part) in no log line
    for (const phone of [before, after]) {
      expect(t.logs()).not.toContain(digits(phone).slice(2));
    }
  });
});
