import { ManualClock } from '@app/common';
import { http, startTestApp, TestApp } from './support/test-app';
import { createSite, phoneAt } from './support/timesheet-client';
import { refreshToken, signPacket, syncBatch } from './support/worker-client';

/**
 * docs/phone-client.md §2: re-sending a packet is safe. A packet accepted once and sent again
 * after the phone refreshed its token (its timestamp now before the new token's window) is a
 * duplicate, no fraud event; a packet of the same id and other content is still refused.
 */
describe('A packet re-sent after a token refresh (e2e)', () => {
  const clock = new ManualClock(new Date(Math.floor(Date.now() / 1000) * 1000));
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({}, { clock });
  });
  afterAll(async () => t.close());

  it('should answer duplicate, with no fraud event, and still refuse other content', async () => {
    const { siteId } = await createSite(t.baseUrl, t.keys.admin);
    const phone = await phoneAt(t.baseUrl, t.keys.admin, siteId);
    clock.advance(60_000);
    const packet = signPacket(phone, { timestamp: clock.now().toISOString() });
    const first = await syncBatch(t.baseUrl, phone.token, [packet]);
    expect([first.status, first.body.results[0].status]).toEqual([200, 'accepted']);
    const seq = first.body.results[0].seq;

    clock.advance(3_600_000); // an hour later, the phone refreshes its token
    const refreshed = await refreshToken(t.baseUrl, phone, clock.now().toISOString());
    expect(refreshed.status).toBe(200);
    const token = refreshed.body.offlineToken as string;

    const again = await syncBatch(t.baseUrl, token, [packet]);
    expect(again.status).toBe(200);
    expect(again.body.results).toEqual([
      expect.objectContaining({ packetId: packet.payload.packetId, status: 'duplicate', seq }),
    ]);
    // other content under the same packetId is still refused (the window, as before: a refusal)
    const changed = signPacket(phone, {
      packetId: packet.payload.packetId,
      timestamp: new Date(clock.now().getTime() - 3_599_000).toISOString(),
    });
    const conflict = await syncBatch(t.baseUrl, token, [changed]);
    expect(conflict.body.results[0].status).toBe('rejected');

    const events = await http(t.baseUrl, 'GET', `/api/v5/fraud/events?deviceId=${phone.deviceId}`, {
      key: t.keys.admin,
    });
    expect(events.status).toBe(200);
    // the changed packet's refusal only, not the re-sent one
    expect(events.body.map((e: { type: string }) => e.type)).toEqual([
      conflict.body.results[0].reason,
    ]);
  });
});
