import { randomUUID } from 'node:crypto';
import { http, startTestApp, TestApp } from './support/test-app';
import {
  enrollPhone,
  hmacHex,
  canonicalJson,
  Phone,
  signPacket,
  syncBatch,
} from './support/worker-client';

/**
 * A phone developer learns what is wrong with a packet from the sync's answer: each rejection
 * caused by the packet's own form carries a `detail` (docs/phone-client.md), and for a
 * signature that does not verify only that.
 */
describe('sync: the detail of a malformed packet (e2e)', () => {
  let t: TestApp;
  let phone: Phone;
  beforeAll(async () => {
    t = await startTestApp({ TRUST_AUTO_BLOCK_FLOOR: '0' });
    phone = await enrollPhone(t.baseUrl, t.keys.admin);
  });
  afterAll(async () => t.close());

  /** A packet whose payload is changed after signing would fail its HMAC too: sign it as sent. */
  const signed = (payload: Record<string, unknown>, signature?: string) => ({
    payload,
    signature: signature ?? hmacHex(phone.secret, canonicalJson(payload)),
  });
  const base = () => signPacket(phone).payload;

  it.each<[string, () => { payload: any; signature: string }, string]>([
    [
      'an extra member',
      () => signed({ ...base(), note: 'x' }),
      'payload must have exactly these members: deviceId, geo, packetId, siteId, timestamp, type, workerId',
    ],
    [
      'a missing member',
      () => {
        const { type: _, ...rest } = base();
        return signed(rest);
      },
      'payload must have exactly these members: deviceId, geo, packetId, siteId, timestamp, type, workerId',
    ],
    [
      'an uppercase packetId',
      () => signed({ ...base(), packetId: randomUUID().toUpperCase() }),
      'packetId must be a lowercase UUID (8-4-4-4-12 hex digits, a-f 0-9)',
    ],
    [
      'a workerId with a space',
      () => signed({ ...base(), workerId: 'a b' }),
      'workerId must be a string of 1 to 64 characters A-Z a-z 0-9 _ -',
    ],
    [
      'an unknown type',
      () => signed({ ...base(), type: 'break' }),
      'type must be check_in or check_out',
    ],
    [
      'a +00:00 timestamp',
      () => signed({ ...base(), timestamp: '2026-03-01T09:30:00+00:00' }),
      'timestamp must be ISO-8601 UTC ending in Z, YYYY-MM-DDTHH:MM:SS with 0 to 3 fraction digits (no offset such as +00:00)',
    ],
    [
      'a date that does not exist',
      () => signed({ ...base(), timestamp: '2026-02-30T09:30:00Z' }),
      'timestamp is not a real instant (no such date or time)',
    ],
    [
      'geo without accuracyM',
      () => signed({ ...base(), geo: { lat: 1, lng: 1 } }),
      'geo must be an object with exactly these members: accuracyM, lat, lng',
    ],
    [
      'a latitude as a string',
      () => signed({ ...base(), geo: { lat: '28.5', lng: 77.2, accuracyM: 5 } }),
      'geo.lat must be a number from -90 to 90',
    ],
    [
      'a longitude out of range',
      () => signed({ ...base(), geo: { lat: 28.5, lng: 181, accuracyM: 5 } }),
      'geo.lng must be a number from -180 to 180',
    ],
    [
      'an accuracy out of range',
      () => signed({ ...base(), geo: { lat: 28.5, lng: 77.2, accuracyM: 100_001 } }),
      'geo.accuracyM must be a number from 0 to 100000',
    ],
    [
      'an uppercase signature',
      () => {
        const p = signPacket(phone);
        return { payload: p.payload, signature: p.signature.toUpperCase() };
      },
      'signature must be 64 lowercase hex characters',
    ],
    [
      'a short signature',
      () => ({ payload: base(), signature: 'ab' }),
      'signature must be 64 lowercase hex characters',
    ],
  ])('should say what is wrong with %s', async (_, make, detail) => {
    const bad = make();
    const good = signPacket(phone);
    const res = await syncBatch(t.baseUrl, phone.token, [bad, good]);
    expect(res.status).toBe(200);
    expect(res.body.results[0]).toEqual({
      packetId: typeof bad.payload?.packetId === 'string' ? bad.payload.packetId : '',
      status: 'rejected',
      reason: 'malformed_packet',
      detail,
    });
    expect(res.body.results[1]).toMatchObject({ status: 'accepted' });
    expect(res.body.results[1]).not.toHaveProperty('detail');
  });

  it('should say only that a signature does not verify, and give no detail to other rejections', async () => {
    const wrongKey = signPacket(phone, {}, Buffer.alloc(32, 7));
    const otherSite = signPacket(phone, { siteId: '0123456789abcdef01234567' });
    const malformed = signed({ ...base(), type: 'break' });
    const res = await syncBatch(t.baseUrl, phone.token, [wrongKey, otherSite, malformed]);
    expect(res.status).toBe(200);
    expect(res.body.results[0]).toEqual({
      packetId: wrongKey.payload.packetId,
      status: 'rejected',
      reason: 'invalid_signature',
      detail:
        'signature does not verify: it must be the HMAC-SHA256 of JCS(payload) under the device secret',
    });
    expect(res.body.results[1]).toEqual({
      packetId: otherSite.payload.packetId,
      status: 'rejected',
      reason: 'site_not_allowed',
    });
    expect(JSON.stringify(res.body)).not.toContain(
      hmacHex(phone.secret, canonicalJson(wrongKey.payload)),
    );
    // the admin's fraud event keeps the same words
    const events = await http(
      t.baseUrl,
      'GET',
      `/api/v5/fraud/events?type=malformed_packet&deviceId=${phone.deviceId}`,
      {
        key: t.keys.admin,
      },
    );
    expect(events.body.map((e: any) => e.detail)).toContain('type must be check_in or check_out');
  });
});
