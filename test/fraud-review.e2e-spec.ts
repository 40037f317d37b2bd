import { ManualClock } from '@app/common';
import { http, startTestApp, TestApp } from './support/test-app';
import { enrollPhone, Phone, signPacket, syncBatch } from './support/worker-client';

const SITE = { lat: 28.6139, lng: 77.209 };
const EARTH_RADIUS_M = 6_371_008.8;
const HOUR = 3_600_000;

/** The point `metres` due north of `from` (written here, not taken from the server). */
function north(from: { lat: number; lng: number }, metres: number) {
  return { lat: from.lat + (metres / EARTH_RADIUS_M) * (180 / Math.PI), lng: from.lng };
}

function packet(phone: Phone, at: Date, where: { lat: number; lng: number }, type?: string) {
  return signPacket(phone, {
    timestamp: at.toISOString(),
    geo: { lat: where.lat, lng: where.lng, accuracyM: 10 },
    ...(type ? { type } : {}),
  });
}

describe('reviewing fraud events (e2e)', () => {
  let t: TestApp;
  let adminKeyId: string;
  let sim = 0;
  // packets must be signed after the token was issued: register, then let time pass
  const clock = new ManualClock(new Date(Math.floor(Date.now() / 1000) * 1000));

  const review = (eventId: string, body: unknown, key = t.keys.admin) =>
    http(t.baseUrl, 'POST', `/api/v5/fraud/events/${eventId}/review`, { key, body });
  const eventsOf = async (query: string) => {
    const res = await http(t.baseUrl, 'GET', `/api/v5/fraud/events?${query}`, {
      key: t.keys.admin,
    });
    expect(res.status).toBe(200);
    return res.body as any[];
  };
  const trustOf = async (deviceId: string) => {
    const res = await http(t.baseUrl, 'GET', `/api/v5/devices/${deviceId}/trust`, {
      key: t.keys.admin,
    });
    expect(res.status).toBe(200);
    return res.body as { score: number; factors: { name: string; detail: string }[] };
  };
  const history = (trust: { factors: { name: string; detail: string }[] }) =>
    trust.factors.find((f) => f.name === 'fraud_history')!.detail;

  /** A phone whose batch was flagged twice: impossible travel and outside the geofence. */
  async function flaggedPhone(): Promise<{ phone: Phone; travel: any; geofence: any }> {
    const phone = await enrollPhone(t.baseUrl, t.keys.admin, undefined, {
      simHash: `review-sim-${++sim}-0000`,
    });
    const t0 = clock.now().getTime();
    clock.advance(2 * HOUR);
    const res = await syncBatch(t.baseUrl, phone.token, [
      packet(phone, new Date(t0), SITE),
      // a minute later, 50 km away: impossible travel, and outside the site's geofence
      packet(phone, new Date(t0 + 60_000), north(SITE, 50_000), 'check_out'),
    ]);
    expect(res.body).toMatchObject({ accepted: 2, rejected: 0 });
    const [travel] = await eventsOf(`deviceId=${phone.deviceId}&type=impossible_travel`);
    const [geofence] = await eventsOf(`deviceId=${phone.deviceId}&type=outside_geofence`);
    expect(travel.review).toBeUndefined();
    return { phone, travel, geofence };
  }

  beforeAll(async () => {
    t = await startTestApp({ TRUST_AUTO_BLOCK_FLOOR: '0' }, { clock });
    const whoami = await http(t.baseUrl, 'GET', '/api/whoami', { key: t.keys.admin });
    adminKeyId = whoami.body.keyId;
  });
  afterAll(async () => t.close());

  it("should raise the device's trust score back when its events are dismissed, not when confirmed", async () => {
    const { phone, travel, geofence } = await flaggedPhone();
    const flagged = await trustOf(phone.deviceId);
    expect(flagged.score).toBeLessThan(50);
    expect(history(flagged)).toContain('impossible_travel x1');

    const confirmed = await review(geofence.id, {
      decision: 'confirmed',
      reason: 'the worker was at home',
    });
    expect(confirmed.status).toBe(201);
    expect((await trustOf(phone.deviceId)).score).toBe(flagged.score);

    const dismissed = await review(travel.id, {
      decision: 'dismissed',
      reason: 'bad GPS fix indoors',
    });
    expect(dismissed.status).toBe(201);
    expect(dismissed.body.review).toMatchObject({
      decision: 'dismissed',
      reason: 'bad GPS fix indoors',
      by: `admin:${adminKeyId}`,
      at: clock.now().toISOString(),
    });
    const afterDismissal = await trustOf(phone.deviceId);
    expect(afterDismissal.score).toBeGreaterThan(flagged.score);
    expect(history(afterDismissal)).not.toContain('impossible_travel');
    expect(history(afterDismissal)).toContain('outside_geofence x1');

    // the geofence flag was a mistake too: a later review changes the decision
    await review(geofence.id, { decision: 'dismissed', reason: 'site radius was set too small' });
    const cleared = await trustOf(phone.deviceId);
    expect(cleared.score).toBe(50);
    expect(history(cleared)).toMatch(/^no fraud events/);
  });

  it('should keep every review in the history and show the latest on the event', async () => {
    const { travel } = await flaggedPhone();
    await review(travel.id, { decision: 'dismissed', reason: 'double tap' });
    clock.advance(60_000);
    await review(travel.id, { decision: 'confirmed', reason: 'same phone seen at two sites' });
    const detail = await http(t.baseUrl, 'GET', `/api/v5/fraud/events/${travel.id}`, {
      key: t.keys.admin,
    });
    expect(detail.status).toBe(200);
    expect(detail.body.reviews.map((r: any) => [r.decision, r.reason, r.by])).toEqual([
      ['dismissed', 'double tap', `admin:${adminKeyId}`],
      ['confirmed', 'same phone seen at two sites', `admin:${adminKeyId}`],
    ]);
    expect(detail.body.review).toEqual(detail.body.reviews[1]);
    const [listed] = await eventsOf(`deviceId=${travel.deviceId}&type=impossible_travel`);
    expect(listed.review).toEqual(detail.body.reviews[1]);
    expect(listed.reviews).toBeUndefined();
  });

  it('should answer a retry of the latest review 200 without a new record', async () => {
    const { travel } = await flaggedPhone();
    const body = { decision: 'dismissed', reason: 'bad GPS fix' };
    const first = await review(travel.id, body);
    expect(first.status).toBe(201);
    clock.advance(1000);
    const retry = await review(travel.id, body);
    expect(retry.status).toBe(200);
    expect(retry.body.reviews).toEqual(first.body.reviews);
    expect(retry.body.review).toEqual(first.body.review);
    // another reason is a new review
    const reworded = await review(travel.id, { ...body, reason: 'bad GPS fix, confirmed by site' });
    expect(reworded.status).toBe(201);
    expect(reworded.body.reviews).toHaveLength(2);
  });

  it('should filter the listing by review state', async () => {
    const { phone, travel, geofence } = await flaggedPhone();
    const ids = async (review: string) =>
      (await eventsOf(`deviceId=${phone.deviceId}&review=${review}`)).map((e) => e.id);
    expect(await ids('unreviewed')).toEqual([geofence.id, travel.id].sort().reverse());
    await review(travel.id, { decision: 'dismissed', reason: 'bad GPS fix' });
    expect(await ids('unreviewed')).toEqual([geofence.id]);
    expect(await ids('dismissed')).toEqual([travel.id]);
    expect(await ids('confirmed')).toEqual([]);
    await review(travel.id, { decision: 'confirmed', reason: 'checked again' });
    expect(await ids('dismissed')).toEqual([]);
    expect(await ids('confirmed')).toEqual([travel.id]);
    const bad = await http(t.baseUrl, 'GET', '/api/v5/fraud/events?review=ignored', {
      key: t.keys.admin,
    });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ statusCode: 400, code: 'validation_failed' });
  });

  it('should let admins only review and read an event', async () => {
    const { travel } = await flaggedPhone();
    const body = { decision: 'dismissed', reason: 'bad GPS fix' };
    for (const key of [t.keys.auditor, t.keys.provisioner, t.keys.mobile]) {
      const refused = await review(travel.id, body, key);
      expect(refused.status).toBe(403);
      expect(refused.body).toMatchObject({ statusCode: 403, code: 'forbidden' });
      const read = await http(t.baseUrl, 'GET', `/api/v5/fraud/events/${travel.id}`, { key });
      expect(read.status).toBe(403);
    }
    const anonymous = await http(t.baseUrl, 'POST', `/api/v5/fraud/events/${travel.id}/review`, {
      body,
    });
    expect(anonymous.status).toBe(401);
    expect(anonymous.body).toMatchObject({ statusCode: 401, code: 'unauthorized' });
    expect((await http(t.baseUrl, 'GET', `/api/v5/fraud/events/${travel.id}`, {})).status).toBe(
      401,
    );
    // nothing was recorded by the refused calls
    const [listed] = await eventsOf(`deviceId=${travel.deviceId}&type=impossible_travel`);
    expect(listed.review).toBeUndefined();
  });

  it('should answer 404 for an unknown event', async () => {
    const unknown = '0123456789abcdef01234567';
    const res = await review(unknown, { decision: 'dismissed', reason: 'bad GPS fix' });
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ statusCode: 404, code: 'fraud_event_not_found' });
    const read = await http(t.baseUrl, 'GET', `/api/v5/fraud/events/${unknown}`, {
      key: t.keys.admin,
    });
    expect(read.status).toBe(404);
    expect(read.body.code).toBe('fraud_event_not_found');
  });

  it('should refuse bad bodies and ids with 400 in the error shape, recording nothing', async () => {
    const { travel } = await flaggedPhone();
    const bodies: unknown[] = [
      {},
      { decision: 'dismissed' },
      { decision: 'dismissed', reason: '' },
      { decision: 'dismissed', reason: '   ' },
      { decision: 'dismissed', reason: 'x'.repeat(501) },
      { decision: 'ignored', reason: 'bad GPS fix' },
      { decision: 'dismissed', reason: 42 },
      { decision: 'dismissed', reason: 'bad GPS fix', by: 'admin:someone-else' },
      ['dismissed', 'bad GPS fix'],
    ];
    for (const body of bodies) {
      const res = await review(travel.id, body);
      expect([JSON.stringify(body).slice(0, 40), res.status]).toEqual([
        JSON.stringify(body).slice(0, 40),
        400,
      ]);
      expect(res.body).toMatchObject({ statusCode: 400, code: expect.any(String) });
      expect(typeof res.body.message).toBe('string');
    }
    const notJson = await http(t.baseUrl, 'POST', `/api/v5/fraud/events/${travel.id}/review`, {
      key: t.keys.admin,
      rawBody: '{"decision": "dismissed", ',
      headers: { 'content-type': 'application/json' },
    });
    expect(notJson.status).toBe(400);
    const badId = await review('not-an-id', { decision: 'dismissed', reason: 'bad GPS fix' });
    expect(badId.status).toBe(400);
    expect(badId.body.code).toBe('validation_failed');
    // the longest reason is accepted
    const longest = await review(travel.id, { decision: 'dismissed', reason: 'x'.repeat(500) });
    expect(longest.status).toBe(201);
    expect(longest.body.reviews).toHaveLength(1);
  });

  it('should read a date-only `to` as that whole day (UTC), inclusive, as timesheets do', async () => {
    const { phone, travel } = await flaggedPhone();
    const day = (travel.at as string).slice(0, 10);
    expect(travel.id).toEqual(expect.any(String));
    const sameDay = await eventsOf(`deviceId=${phone.deviceId}&from=${day}&to=${day}`);
    expect(sameDay.map((e) => e.id)).toContain(travel.id);
    // a date-time `to` is that instant: midnight of the day holds none of its events
    const midnight = await eventsOf(`deviceId=${phone.deviceId}&from=${day}&to=${day}T00:00:00Z`);
    expect(midnight.map((e) => e.id)).not.toContain(travel.id);
    // a date-time `from` inside the day and that day as `to` is a range, not an inverted one
    const from = new Date(Date.parse(travel.at as string) - 1).toISOString();
    const fromTime = await eventsOf(`deviceId=${phone.deviceId}&from=${from}&to=${day}`);
    expect(fromTime.map((e) => e.id)).toContain(travel.id);
    // and `to` a day before a `from` inside the next day is still inverted
    const before = await http(
      t.baseUrl,
      'GET',
      `/api/v5/fraud/events?from=${day}T12:00:00Z&to=${new Date(Date.parse(day) - 86_400_000).toISOString().slice(0, 10)}`,
      { key: t.keys.admin },
    );
    expect(before.status).toBe(400);
    expect(before.body.code).toBe('invalid_period');
  });

  it('should refuse a reason with no visible character or with text-direction controls (400 naming it), and store a reason trimmed', async () => {
    const { travel } = await flaggedPhone();
    for (const reason of ['   \u200b\u200b\u200b ', '\u202e\u202e', 'bad \u202eGPS']) {
      const res = await review(travel.id, { decision: 'dismissed', reason });
      expect([JSON.stringify(reason), res.status, res.body.code]).toEqual([
        JSON.stringify(reason),
        400,
        'validation_failed',
      ]);
      expect(res.body.errors).toEqual([
        { field: 'reason', message: expect.stringContaining('must hold a visible character') },
      ]);
    }
    expect((await review(travel.id, { decision: 'dismissed', reason: ' test ' })).status).toBe(201);
    // the same reason without the spaces is the same review (not a second one)
    expect((await review(travel.id, { decision: 'dismissed', reason: 'test' })).status).toBe(200);
    const detail = await http(t.baseUrl, 'GET', `/api/v5/fraud/events/${travel.id}`, {
      key: t.keys.admin,
    });
    expect(detail.body.reviews.map((r: any) => r.reason)).toEqual(['test']);
  });
});
