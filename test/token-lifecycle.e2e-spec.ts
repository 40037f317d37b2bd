import { ManualClock } from '@app/common';
import { http, startTestApp, TestApp } from './support/test-app';
import { enrollPhone, Phone, refreshToken, signPacket, syncBatch } from './support/worker-client';

/**
 * Item 10 of issue 12: a punch recorded offline while the token was valid survives the token's
 * expiry (within OFFLINE_TOKEN_GRACE_DAYS), and a phone can refresh its token with its secret.
 */
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe('offline token lifecycle (e2e)', () => {
  let t: TestApp;
  const clock = new ManualClock(new Date(Math.floor(Date.now() / 1000) * 1000));
  const at = (ms: number) => new Date(ms).toISOString();
  const refresh = (phone: Phone, timestamp = clock.now().toISOString(), secret = phone.secret) =>
    refreshToken(t.baseUrl, phone, timestamp, secret);

  beforeAll(async () => {
    t = await startTestApp(
      {
        OFFLINE_TOKEN_TTL_DAYS: '1',
        OFFLINE_TOKEN_GRACE_DAYS: '2',
        SYNC_MAX_OFFLINE_AGE_HOURS: String(24 * 10),
        TRUST_AUTO_BLOCK_FLOOR: '0',
      },
      { clock },
    );
  });
  afterAll(async () => t.close());

  it('item 10: should accept packets recorded while the token was valid after it expired within the grace, and refuse after the grace saying why', async () => {
    const phone = await enrollPhone(t.baseUrl, t.keys.admin);
    const issued = clock.now().getTime();
    expect(new Date(phone.tokenExpiresAt).getTime()).toBe(issued + DAY);
    // offline: two punches while the token is valid, one after it expired
    const early = signPacket(phone, { timestamp: at(issued + HOUR) });
    const late = signPacket(phone, { timestamp: at(issued + 23 * HOUR), type: 'check_out' });
    const afterExpiry = signPacket(phone, { timestamp: at(issued + DAY + HOUR) });

    clock.set(new Date(issued + DAY + 2 * HOUR)); // expired 2 h ago, well inside the 2-day grace
    const inGrace = await syncBatch(t.baseUrl, phone.token, [early, afterExpiry]);
    expect(inGrace.status).toBe(200);
    expect(inGrace.body.results).toEqual([
      expect.objectContaining({ packetId: early.payload.packetId, status: 'accepted' }),
      {
        packetId: afterExpiry.payload.packetId,
        status: 'rejected',
        reason: 'outside_token_window',
      },
    ]);

    clock.set(new Date(issued + 3 * DAY + HOUR)); // expired 2 days and 1 hour ago
    const tooLate = await syncBatch(t.baseUrl, phone.token, [late]);
    expect(tooLate.status).toBe(403);
    expect(tooLate.body.code).toBe('token_expired');
    expect(tooLate.body.message).toContain('expired more than 2 days ago');
    expect(tooLate.body.message).toContain('OFFLINE_TOKEN_GRACE_DAYS');
  });

  it('item 10: should refresh a token once per signature for a phone that proves its secret, and the new token syncs', async () => {
    const phone = await enrollPhone(t.baseUrl, t.keys.admin);
    const issued = clock.now().getTime();
    const recorded = signPacket(phone, { timestamp: at(issued + HOUR) });
    clock.set(new Date(issued + 20 * HOUR)); // before expiry: time to refresh
    const timestamp = clock.now().toISOString();
    const refreshed = await refresh(phone, timestamp);
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.offlineTokenExpiresAt).toBe(at(issued + 20 * HOUR + DAY));
    expect(refreshed.body.syncGraceEndsAt).toBe(at(issued + 20 * HOUR + 3 * DAY));
    const replay = await refresh(phone, timestamp);
    expect([replay.status, replay.body.code]).toEqual([403, 'replayed_request']);
    const forged = await refresh(phone, undefined, Buffer.alloc(32, 7));
    expect([forged.status, forged.body.code]).toEqual([401, 'invalid_signature']);
    const stale = await refresh(phone, at(clock.now().getTime() - HOUR));
    expect([stale.status, stale.body.code]).toEqual([401, 'stale_request']);

    // the old token carries what was recorded under it; the new one what comes after
    const old = await syncBatch(t.baseUrl, phone.token, [recorded]);
    expect(old.body.accepted).toBe(1);
    const token = refreshed.body.offlineToken as string;
    clock.set(new Date(issued + 36 * HOUR)); // the first token has expired; the new one has not
    const next = signPacket(phone, { timestamp: at(issued + 35 * HOUR), type: 'check_out' });
    const synced = await syncBatch(t.baseUrl, token, [next]);
    expect([synced.status, synced.body.accepted]).toEqual([200, 1]);
  });

  it('item 10: should give a blocked device no new token', async () => {
    const phone = await enrollPhone(t.baseUrl, t.keys.admin);
    await http(t.baseUrl, 'POST', `/api/v5/devices/${phone.deviceId}/block`, {
      key: t.keys.admin,
      body: { reason: 'lost phone' },
    });
    const res = await refresh(phone);
    expect([res.status, res.body.code]).toEqual([403, 'device_blocked']);
  });
});
