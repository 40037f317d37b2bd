import { randomBytes } from 'node:crypto';
import { http, startTestApp, TestApp } from './support/test-app';
import { enrollPhone, Phone, signPacket, syncBatch } from './support/worker-client';

/** Every sample of one metric in a Prometheus text page: the label set as text → the value. */
function samples(metrics: string, name: string): Map<string, number> {
  const found = new Map<string, number>();
  for (const line of metrics.split('\n')) {
    const match = new RegExp(`^${name}\\{([^}]*)\\} (\\S+)$`).exec(line);
    if (match) found.set(match[1], Number(match[2]));
  }
  return found;
}

async function scrape(t: TestApp): Promise<string> {
  const res = await fetch(`${t.baseUrl}/metrics`);
  expect(res.status).toBe(200);
  return res.text();
}

/**
 * What an operator alerts on in offline attendance: packets by outcome and fraud events by
 * type, on /metrics, counted where the service decides them.
 */
describe('sync and fraud metrics (e2e)', () => {
  let t: TestApp;
  let phone: Phone;

  beforeAll(async () => {
    // the rejections below lower the phone's trust score: no auto-block in the middle
    t = await startTestApp({ TRUST_AUTO_BLOCK_FLOOR: '0' });
    phone = await enrollPhone(t.baseUrl, t.keys.admin);
  });
  afterAll(async () => t.close());

  it('should export every outcome and every fraud type at 0 before any sync', async () => {
    const metrics = await scrape(t);
    expect(Object.fromEntries(samples(metrics, 'mdai_sync_packets_total'))).toEqual({
      'outcome="accepted"': 0,
      'outcome="duplicate"': 0,
      'outcome="rejected"': 0,
    });
    const fraud = samples(metrics, 'mdai_fraud_events_total');
    expect(fraud.get('type="invalid_signature"')).toBe(0);
    expect(fraud.get('type="shared_device"')).toBe(0);
    expect([...fraud.values()].every((v) => v === 0)).toBe(true);
  });

  it('should count accepted, duplicate and rejected packets, and the fraud events of the rejections', async () => {
    const packet = signPacket(phone);
    const first = await syncBatch(t.baseUrl, phone.token, [packet]);
    expect(first.body).toMatchObject({ accepted: 1, duplicates: 0, rejected: 0 });

    const future = signPacket(phone, {
      type: 'check_out',
      timestamp: new Date(Date.now() + 3_600_000).toISOString(),
    });
    const second = await syncBatch(t.baseUrl, phone.token, [packet, future]);
    expect(second.body).toMatchObject({ accepted: 0, duplicates: 1, rejected: 1 });

    // a batch in which no packet is signed with the device's key: refused whole (403)
    const forged = signPacket(phone, { type: 'check_out' }, randomBytes(32));
    const third = await syncBatch(t.baseUrl, phone.token, [forged]);
    expect([third.status, third.body.code]).toEqual([403, 'invalid_signatures']);

    const metrics = await scrape(t);
    expect(Object.fromEntries(samples(metrics, 'mdai_sync_packets_total'))).toEqual({
      'outcome="accepted"': 1,
      'outcome="duplicate"': 1,
      'outcome="rejected"': 2,
    });
    const fraud = samples(metrics, 'mdai_fraud_events_total');
    expect(fraud.get('type="timestamp_in_future"')).toBe(1);
    expect(fraud.get('type="invalid_signature"')).toBe(1);
    // the counter and the event log agree, type by type (the pattern rules' flags included)
    const events = await http(t.baseUrl, 'GET', `/api/v5/fraud/events?deviceId=${phone.deviceId}`, {
      key: t.keys.admin,
    });
    expect(events.status).toBe(200);
    const logged = new Map<string, number>();
    for (const e of events.body as { type: string }[]) {
      logged.set(`type="${e.type}"`, (logged.get(`type="${e.type}"`) ?? 0) + 1);
    }
    expect(Object.fromEntries([...fraud].filter(([, v]) => v > 0))).toEqual(
      Object.fromEntries(logged),
    );
  });
});
