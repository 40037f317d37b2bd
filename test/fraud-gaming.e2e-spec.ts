import { ManualClock } from '@app/common';
import { http, startTestApp, TestApp } from './support/test-app';
import { enrollPhone, Packet, Phone, signPacket, syncBatch } from './support/worker-client';

/** Item 9 of issue 12: the fraud rules cannot be turned against an honest worker. */

const SITE = { lat: 28.6139, lng: 77.209 };
const HOUR = 3_600_000;

function packet(phone: Phone, at: Date, overrides: Record<string, unknown> = {}): Packet {
  return signPacket(phone, {
    timestamp: at.toISOString(),
    geo: { ...SITE, accuracyM: 10 },
    ...overrides,
  });
}

describe('fraud rules resist gaming (e2e)', () => {
  let t: TestApp;
  const clock = new ManualClock(new Date(Math.floor(Date.now() / 1000) * 1000));
  const events = async (query: string): Promise<any[]> =>
    (await http(t.baseUrl, 'GET', `/api/v5/fraud/events?${query}`, { key: t.keys.admin })).body;
  const trust = async (deviceId: string): Promise<number> =>
    (await http(t.baseUrl, 'GET', `/api/v5/devices/${deviceId}/trust`, { key: t.keys.admin })).body
      .score;

  beforeAll(async () => {
    t = await startTestApp(
      {
        TRUST_AUTO_BLOCK_FLOOR: '0',
        FRAUD_SHARED_DEVICE_MAX_WORKERS: '3',
        FRAUD_SHARED_DEVICE_WINDOW_HOURS: '24',
        FRAUD_RAPID_REPEAT_SECONDS: '1',
      },
      { clock },
    );
  });
  afterAll(async () => t.close());

  it("item 9: should flag the newcomers who claim an established phone's SIM hash, never the established phone", async () => {
    const simHash = 'victim-sim-hash-0001';
    const victim = await enrollPhone(t.baseUrl, t.keys.admin, undefined, { simHash });
    clock.advance(HOUR);
    const t0 = clock.now().getTime();
    expect(
      (await syncBatch(t.baseUrl, victim.token, [packet(victim, new Date(t0))])).body.accepted,
    ).toBe(1);
    const attackers: Phone[] = [];
    for (let i = 0; i < 5; i++) {
      attackers.push(await enrollPhone(t.baseUrl, t.keys.admin, victim.siteId, { simHash }));
    }
    clock.advance(HOUR);
    for (const [i, a] of attackers.entries()) {
      const res = await syncBatch(t.baseUrl, a.token, [packet(a, new Date(t0 + (i + 1) * 60_000))]);
      expect(res.body.accepted).toBe(1);
    }
    // the victim keeps working: its next sync sees 6 workers "on its phone"
    const later = await syncBatch(t.baseUrl, victim.token, [
      packet(victim, new Date(t0 + 10 * 60_000), { type: 'check_out' }),
    ]);
    expect(later.body.accepted).toBe(1);

    expect(await events(`type=shared_device&deviceId=${victim.deviceId}`)).toEqual([]);
    expect(await trust(victim.deviceId)).toBe(50);
    // from the third attacker on, the phone has more than 3 workers: those are the ones flagged
    const flagged = (await events('type=shared_device')).map((e) => e.deviceId).sort();
    expect(flagged).toEqual(
      attackers
        .slice(2)
        .map((a) => a.deviceId)
        .sort(),
    );
    const detail = (await events(`type=shared_device&deviceId=${attackers[4].deviceId}`))[0].detail;
    expect(detail).toContain(`first device ${victim.deviceId}`);
  });

  it("item 9: should file worker_mismatch under the token's worker and say which worker was claimed", async () => {
    const attacker = await enrollPhone(t.baseUrl, t.keys.admin, undefined, {
      simHash: 'attacker-0002',
    });
    const victim = await enrollPhone(t.baseUrl, t.keys.admin, attacker.siteId, {
      simHash: 'victim-0002',
    });
    clock.advance(HOUR);
    const forged = packet(attacker, new Date(clock.now().getTime() - 60_000), {
      workerId: victim.workerId,
    });
    const res = await syncBatch(t.baseUrl, attacker.token, [forged]);
    expect(res.body.results[0]).toMatchObject({ status: 'rejected', reason: 'worker_mismatch' });
    expect(await events(`type=worker_mismatch&workerId=${victim.workerId}`)).toEqual([]);
    const filed = await events(`type=worker_mismatch&workerId=${attacker.workerId}`);
    expect(filed).toHaveLength(1);
    expect(filed[0]).toMatchObject({ deviceId: attacker.deviceId, workerId: attacker.workerId });
    expect(filed[0].detail).toContain(`packet claimed workerId ${victim.workerId}`);
  });
});
