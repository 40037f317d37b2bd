import { loadOpenApi } from './support/openapi-walk';
import { http, startTestApp, TestApp } from './support/test-app';
import { createSite } from './support/timesheet-client';

/**
 * Every listing with a `from`/`to` range, found in docs/openapi.json (so a new one is held to
 * the same rule without being named here), answers an inverted range with one 400 code,
 * `invalid_period`, naming `to`, instead of an empty list; a range of one instant or day is
 * fine, and a malformed bound is a 400 `validation_failed`, never a 5xx.
 */
describe('listing ranges (e2e)', () => {
  let t: TestApp;
  let siteId: string;
  const ranged = loadOpenApi().operations.filter((op) => {
    const query = op.parameters.filter((p) => p.in === 'query').map((p) => p.name);
    return op.method === 'GET' && query.includes('from') && query.includes('to');
  });
  /** Two bounds of the kind the operation takes: days for timesheets, instants for events. */
  const bounds = (path: string, later: boolean) => {
    const day = later ? '2026-03-10' : '2026-03-01';
    return path.includes('/fraud/') ? `${day}T06:30:00+05:30` : day;
  };
  const get = (path: string, from: string, to: string) =>
    http(
      t.baseUrl,
      'GET',
      `${path.replace('{siteId}', siteId)}?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`,
      { key: t.keys.admin },
    );

  beforeAll(async () => {
    t = await startTestApp();
    siteId = (await createSite(t.baseUrl, t.keys.admin)).siteId;
  });
  afterAll(async () => t.close());

  it('should find the ranged listings: timesheets, the payroll, their CSVs and fraud events', () => {
    expect(ranged.map((op) => op.path).sort()).toEqual(
      [
        '/api/v5/fraud/events',
        '/api/v5/sites/{siteId}/payroll',
        '/api/v5/sites/{siteId}/payroll.csv',
        '/api/v5/sites/{siteId}/timesheets',
        '/api/v5/sites/{siteId}/timesheets.csv',
      ].sort(),
    );
    // no listing takes another path parameter than the site
    for (const op of ranged) {
      const params = op.parameters.filter((p) => p.in === 'path').map((p) => p.name);
      expect(params.filter((p) => p !== 'siteId')).toEqual([]);
    }
  });

  it('should answer an inverted range 400 invalid_period on every ranged listing', async () => {
    for (const op of ranged) {
      const res = await get(op.path, bounds(op.path, true), bounds(op.path, false));
      expect({ path: op.path, status: res.status, code: res.body.code }).toEqual({
        path: op.path,
        status: 400,
        code: 'invalid_period',
      });
      expect(res.body.errors).toEqual([{ field: 'to', message: 'must not be before from' }]);
    }
  });

  it('should accept a range of one day or instant, and a forward range', async () => {
    for (const op of ranged) {
      for (const [from, to] of [
        [bounds(op.path, false), bounds(op.path, false)],
        [bounds(op.path, false), bounds(op.path, true)],
      ]) {
        const res = await get(op.path, from, to);
        expect({ path: op.path, from, status: res.status }).toEqual({
          path: op.path,
          from,
          status: 200,
        });
      }
    }
    // an instant range inverted only by its zones (10:00+05:30 is 04:30Z): refused
    const zones = await get(
      '/api/v5/fraud/events',
      '2026-03-01T05:00:00Z',
      '2026-03-01T10:00:00+05:30',
    );
    expect(zones.body.code).toBe('invalid_period');
  });

  it('should refuse a malformed bound with validation_failed, naming it, on every ranged listing', async () => {
    const malformed = [
      '2026-02-30',
      '2026-W10',
      '2026-060',
      '20260301',
      '2026-03',
      '2026-03-01T25:00:00Z',
    ];
    for (const op of ranged) {
      for (const bad of malformed) {
        const res = await get(op.path, bad, bounds(op.path, true));
        expect({ path: op.path, bad, status: res.status, code: res.body.code }).toEqual({
          path: op.path,
          bad,
          status: 400,
          code: 'validation_failed',
        });
        expect(res.body.errors.map((e: { field: string }) => e.field)).toEqual(['from']);
      }
    }
    // an instant without a zone would be read in the server's zone: events take none
    const local = await get('/api/v5/fraud/events', '2026-03-01T10:00:00', '2026-03-02T00:00:00Z');
    expect(local.status).toBe(400);
    expect(local.body.errors).toEqual([expect.objectContaining({ field: 'from' })]);
    // timesheet periods are local days: a time is refused
    const timed = await get(
      `/api/v5/sites/{siteId}/timesheets`,
      '2026-03-01T00:00:00Z',
      '2026-03-02',
    );
    expect(timed.body.code).toBe('validation_failed');
  });

  it('should report a malformed bound, not the order it cannot know', async () => {
    const res = await get('/api/v5/sites/{siteId}/payroll', '2026-03-10', '2026-3-1');
    expect(res.body.code).toBe('validation_failed');
    expect(res.body.errors.map((e: { field: string }) => e.field)).toEqual(['to']);
  });
});
